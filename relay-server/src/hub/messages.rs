//! What the hub is told and what it hands out: the one vocabulary between the hub and the
//! connection tasks, the HTTP handlers and the dialler.
//!
//! Everything outside the hub knows it through these types only, so the hub can be read,
//! tested and changed without the sockets, and the sockets without the node.

use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use node_core::node::peers::PeerId;
use node_core::Txid;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use super::send_queue::SendQueue;
use crate::commands::{CliError, Request};
use crate::store::StoreError;

/// The hub's side of one connection.
pub struct PeerLink {
    /// Frames to send, bounded in bytes; full means the peer is too slow.
    pub queue: Arc<SendQueue>,
    /// Tells the connection to close, with the reason.
    pub close: oneshot::Sender<String>,
    /// Raised when the peer finishes its handshake: it then keeps its slot when the relay
    /// is full (see `crate::admission::slots`).
    pub handshaken: Arc<AtomicBool>,
}

/// A relay the connection dialled: its URL, and whether the operator named it (`--peer`;
/// only such a peer gives a node without a chain its genesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialled {
    /// The URL dialled.
    pub url: String,
    /// Named by `--peer` rather than learned from a peer.
    pub named: bool,
}

/// What the hub is told.
pub enum HubMsg {
    /// A WebSocket connection opened.
    Connected {
        /// Its handle.
        peer: PeerId,
        /// We dialled it.
        outbound: bool,
        /// The remote address.
        ip: IpAddr,
        /// How to reach it.
        link: PeerLink,
        /// For a connection we dialled: what we dialled.
        dialled: Option<Dialled>,
    },
    /// A frame arrived.
    Frame {
        /// From whom.
        peer: PeerId,
        /// The untrusted bytes.
        bytes: Bytes,
        /// The frame is a transaction whose signatures the connection's task already
        /// checked (in parallel with other connections): its txid.
        verified_tx: Option<Txid>,
        /// Released once the hub has handled the frame: how a connection bounds its frames
        /// waiting here (see `crate::net::connection::IN_HUB_FRAMES`).
        held: Option<OwnedSemaphorePermit>,
    },
    /// A connection ended on its side (closed, failed, over its rate).
    Disconnected {
        /// Which.
        peer: PeerId,
        /// Why, in words for the log.
        reason: String,
        /// Whether it broke a rule (its address may then be refused for a while).
        misbehaved: bool,
        /// Why, as a label of [`crate::metrics::DISCONNECTS`] (and of
        /// [`crate::metrics::BAN_REASONS`] when it misbehaved).
        label: &'static str,
    },
    /// A CLI command handed over through the control endpoint.
    Control {
        /// The command.
        request: Request,
        /// Its output or why it failed.
        reply: oneshot::Sender<Result<String, ControlError>>,
    },
    /// `GET /status`.
    Status {
        /// Where to answer.
        reply: oneshot::Sender<StatusReport>,
    },
    /// A scrape of `/metrics`, or `/readyz`: the node's gauges.
    Gauges {
        /// Where to answer.
        reply: oneshot::Sender<crate::metrics::Gauges>,
    },
}

/// Why a command handed to the running node failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The command itself failed, as it would on the CLI.
    #[error("{}", .0.one_line())]
    Command(CliError),
    /// `send` without `--mine` has nowhere to relay to: the running node is the relay.
    #[error("a running node submits payments itself")]
    PaymentToItself,
    /// What the command changed could not be stored (the node stops).
    #[error(transparent)]
    Persist(Arc<StoreError>),
}

/// The node's summary as `GET /status` serves it (hashes in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// NODE_ID.
    pub node_id: String,
    /// Active height.
    pub height: u64,
    /// Active tip, if there is a chain.
    pub tip: Option<String>,
    /// Genesis, if there is a chain.
    pub genesis: Option<String>,
    /// Peers past the handshake.
    pub peers: usize,
    /// Transactions in the mempool.
    pub mempool: usize,
    /// Behind the best peer.
    pub syncing: bool,
    /// Best height any peer announced.
    pub target_height: u64,
    /// A block template is being mined now.
    pub mining: bool,
    /// Address mined to, if mining is on.
    pub mining_to: Option<String>,
    /// Orphan blocks waiting for their parent.
    pub orphans: usize,
}

/// Where the hub asks for a relay to be dialled: it never opens connections itself, so it
/// needs no sockets and no knowledge of who dials.
#[derive(Debug, Clone)]
pub struct Dialer(mpsc::UnboundedSender<String>);

impl Dialer {
    /// A dialer and the URLs it will be asked for, for the task that dials them.
    pub fn new() -> (Dialer, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Dialer(tx), rx)
    }

    /// Asks for `url` to be dialled once; ignored once the dialling task has stopped.
    pub fn dial(&self, url: String) {
        let _ = self.0.send(url);
    }
}
