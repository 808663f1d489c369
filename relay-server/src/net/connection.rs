//! One task per WebSocket connection, inbound (`/ws`) or outbound (our dials), run by
//! [`run`] over the common stream and sink of [`super::ws`].
//!
//! Frames read go to the hub (awaiting it, so a busy hub slows the readers rather than
//! growing a queue), frames the hub queued are written, and the connection ends — for one
//! of the reasons an [`End`] names — when the socket closes, the peer goes over its frame
//! rate or sends something provably bad, the hub says so, the relay needs the slot, or the
//! node stops.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use node_core::node::peers::PeerId;
use tokio::sync::{oneshot, Semaphore};

use super::rate_limit::TokenBucket;
use super::shared::Shared;
use super::verified_txs::VerifiedTxs;
use super::ws::{close_reason, Incoming, Outgoing, ReadError, WriteError};
use crate::admission::ConnectionSlot;
use crate::hub::send_queue::{SendQueue, PAUSE_READING_BYTES};
use crate::hub::{Dialled, HubMsg, PeerLink};

/// `getdata`s one connection may have waiting in the hub's inbox or being handled there:
/// what a peer can ask for before the answers to its first requests are counted in its send
/// queue (and reading from it pauses, see [`PAUSE_READING_BYTES`]). Only `getdata` is held
/// back: its answers are blocks of up to 1 MiB each, the answers to anything else are small,
/// and other frames must reach the rate limit at the speed the peer sends them.
pub const IN_HUB_FRAMES: usize = 16;

/// How long the last frames and the close frame may take once a connection ends: a peer
/// that does not take them in a second is not waited for.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a connection ended.
#[derive(Debug)]
pub enum End {
    /// The peer closed it, with its reason (empty if it gave none).
    ClosedByPeer(String),
    /// The socket's stream ended without a close frame.
    Lost,
    /// Reading failed; an oversized frame is the peer's fault, a reset is not.
    ReadFailed(ReadError),
    /// The peer sent frames faster than its rate allows.
    OverRate {
        /// The allowed frames per second.
        per_sec: u32,
    },
    /// The peer sent a transaction whose signature does not verify.
    InvalidTx(node_core::ValidationError),
    /// The hub closed it, with the node's (or the send queue's) reason.
    ClosedByNode(String),
    /// The hub dropped its side of the connection without a word.
    DroppedByNode,
    /// The hub closed the frame queue (the writer saw it before the hub's word arrived).
    QueueClosed,
    /// The node is stopping (its shutdown signal).
    Shutdown,
    /// The hub's inbox is gone: the node stopped.
    HubGone,
    /// The peer had no handshake while the relay was full: closed to make room.
    Evicted,
    /// Writing a frame failed.
    WriteFailed(WriteError),
    /// A frame took longer than the write timeout: the peer does not read.
    WriteTimeout(Duration),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::ClosedByPeer(why) if why.is_empty() => write!(f, "closed by the peer"),
            End::ClosedByPeer(why) => write!(f, "closed by the peer: {why}"),
            End::Lost => write!(f, "connection lost"),
            End::ReadFailed(e) => write!(f, "{e}"),
            End::OverRate { per_sec } => write!(f, "over the rate limit of {per_sec} frames/s"),
            End::InvalidTx(e) => write!(f, "invalid tx: {e}"),
            End::ClosedByNode(reason) => write!(f, "{reason}"),
            End::DroppedByNode | End::QueueClosed => write!(f, "dropped by the node"),
            End::Shutdown | End::HubGone => write!(f, "node shutting down"),
            End::Evicted => write!(
                f,
                "no handshake while the relay was full: closed to make room"
            ),
            End::WriteFailed(e) => write!(f, "write failed: {e}"),
            End::WriteTimeout(t) => write!(
                f,
                "a frame took over {} s to write: the peer does not read",
                t.as_secs()
            ),
        }
    }
}

impl End {
    /// Whether the peer broke a rule (its address may then be refused for a while).
    pub fn misbehaved(&self) -> bool {
        matches!(
            self,
            End::ReadFailed(ReadError::Oversized { .. }) | End::OverRate { .. } | End::InvalidTx(_)
        )
    }

    /// Its name in [`crate::metrics::DISCONNECTS`] (and, when it misbehaved, in
    /// [`crate::metrics::BAN_REASONS`]).
    pub fn label(&self) -> &'static str {
        match self {
            End::ClosedByPeer(_) => "closed_by_peer",
            End::Lost => "lost",
            End::ReadFailed(ReadError::Oversized { .. }) => "oversized_frame",
            End::ReadFailed(_) => "read_failed",
            End::OverRate { .. } => "over_rate",
            End::InvalidTx(_) => "invalid_tx",
            End::ClosedByNode(_) | End::DroppedByNode | End::QueueClosed => "closed_by_node",
            End::Shutdown | End::HubGone => "shutdown",
            End::Evicted => "evicted",
            End::WriteFailed(_) => "write_failed",
            End::WriteTimeout(_) => "write_timeout",
        }
    }

    /// Whether the hub ended it, and so already knows.
    fn hub_knows(&self) -> bool {
        matches!(
            self,
            End::ClosedByNode(_) | End::DroppedByNode | End::Shutdown
        )
    }

    /// Whether the peer is told why in a close frame.
    fn says_why(&self) -> bool {
        self.misbehaved() || matches!(self, End::ClosedByNode(_) | End::Shutdown | End::Evicted)
    }
}

/// Runs one connection until it ends, registered with the hub for its whole life.
/// `dialled` is, for a connection we opened, what we dialled.
pub async fn run<St, Si>(
    shared: Arc<Shared>,
    slot: ConnectionSlot,
    dialled: Option<Dialled>,
    ip: IpAddr,
    mut stream: St,
    mut sink: Si,
) -> End
where
    St: Stream<Item = Incoming> + Unpin,
    Si: Sink<Outgoing, Error = WriteError> + Unpin,
{
    let peer = shared.next_peer_id();
    let queue = SendQueue::new(shared.limits.max_send_queue, shared.send_budget.clone());
    let (close_tx, close_rx) = oneshot::channel::<String>();
    let link = PeerLink {
        queue: queue.clone(),
        close: close_tx,
        handshaken: slot.handshaken(),
    };
    let connected = HubMsg::Connected {
        peer,
        outbound: dialled.is_some(),
        ip,
        link,
        dialled,
    };
    if shared.hub.send(connected).await.is_err() {
        return End::HubGone;
    }
    let end = {
        let reader = read_frames(&shared, peer, &queue, &mut stream);
        let writer = write_frames(&shared, &queue, &mut sink);
        tokio::pin!(reader, writer);
        let mut shutdown = shared.shutdown.clone();
        // The hub's word comes first: when it drops a peer, its frame queue closes too.
        tokio::select! {
            biased;
            why = close_rx => match why {
                Ok(reason) => End::ClosedByNode(reason),
                Err(_) => End::DroppedByNode,
            },
            _ = shutdown.wait_for(|stop| *stop) => End::Shutdown,
            _ = slot.evicted() => End::Evicted,
            end = &mut reader => end,
            end = &mut writer => end,
        }
    };
    queue.close();
    if end.hub_knows() {
        // Frames the node queued before dropping the peer (a `reject`, say) still go out.
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, flush(&shared, &queue, &mut sink)).await;
    }
    // Whatever was not written is freed now, not when the hub hears of the end.
    queue.discard();
    if end.says_why() {
        let close = sink.send(Outgoing::Close(close_reason(&end.to_string())));
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, close).await;
    }
    shared.metrics.disconnects.add(end.label(), 1);
    if !end.hub_knows() {
        let gone = HubMsg::Disconnected {
            peer,
            reason: end.to_string(),
            misbehaved: end.misbehaved(),
            label: end.label(),
        };
        let _ = shared.hub.send(gone).await;
    }
    end
}

/// Reads frames and hands them to the hub until the peer stops or breaks a rule.
async fn read_frames<St>(shared: &Shared, peer: PeerId, queue: &SendQueue, stream: &mut St) -> End
where
    St: Stream<Item = Incoming> + Unpin,
{
    let (rate, burst) = (shared.limits.rate_per_sec, shared.limits.rate_burst);
    let mut bucket = TokenBucket::new(rate, burst, Instant::now());
    let in_hub = Arc::new(Semaphore::new(IN_HUB_FRAMES));
    loop {
        // Nothing more is read from a peer that has not read the answers it asked for: its
        // further requests wait in its own socket.
        queue.wait_below(PAUSE_READING_BYTES).await;
        let bytes = match stream.next().await {
            Some(Incoming::Frame(bytes)) => bytes,
            Some(Incoming::Ignore) => continue,
            Some(Incoming::Closed(why)) => return End::ClosedByPeer(why),
            Some(Incoming::Failed(e)) => return End::ReadFailed(e),
            None => return End::Lost,
        };
        shared.metrics.frame_in(&bytes);
        if !bucket.take(Instant::now()) {
            return End::OverRate { per_sec: rate };
        }
        let held = if is_getdata(&bytes) {
            let Ok(permit) = in_hub.clone().acquire_owned().await else {
                return End::HubGone;
            };
            // Its earlier requests' answers are counted now.
            queue.wait_below(PAUSE_READING_BYTES).await;
            Some(permit)
        } else {
            None
        };
        // Provably bad whatever the chain holds: charged here, before the hub's cheaper
        // checks could let it wait as an orphan and the next one cost us another ECDSA check.
        let checking = Instant::now();
        let verified_tx = match verified_transaction(&shared.verified_txs, &bytes) {
            Ok(txid) => txid,
            Err(e) => return End::InvalidTx(e),
        };
        if verified_tx.is_some() {
            shared.metrics.tx_signatures.observe(checking.elapsed());
        }
        let frame = HubMsg::Frame {
            peer,
            bytes,
            verified_tx,
            held,
        };
        if shared.hub.send(frame).await.is_err() {
            return End::HubGone;
        }
    }
}

/// Writes the frames the hub queues until the queue closes or the peer stops reading.
async fn write_frames<Si>(shared: &Shared, queue: &SendQueue, sink: &mut Si) -> End
where
    Si: Sink<Outgoing, Error = WriteError> + Unpin,
{
    let write_timeout = shared.limits.write_timeout;
    while let Some(frame) = queue.next().await {
        let len = frame.len();
        let command = crate::metrics::command_of(&frame);
        let written = tokio::time::timeout(write_timeout, sink.send(Outgoing::Frame(frame))).await;
        queue.written(len);
        match written {
            Ok(Ok(())) => {
                shared.metrics.frames_out.add(command, 1);
                shared.metrics.bytes_out.add(command, len as u64);
            }
            Ok(Err(e)) => return End::WriteFailed(e),
            Err(_) => return End::WriteTimeout(write_timeout),
        }
    }
    End::QueueClosed
}

/// Writes what is still queued, stopping at the first failure.
async fn flush<Si>(shared: &Shared, queue: &SendQueue, sink: &mut Si)
where
    Si: Sink<Outgoing, Error = WriteError> + Unpin,
{
    while let Some(frame) = queue.next().await {
        let len = frame.len();
        let command = crate::metrics::command_of(&frame);
        let sent = sink.send(Outgoing::Frame(frame)).await;
        queue.written(len);
        if sent.is_err() {
            break;
        }
        shared.metrics.frames_out.add(command, 1);
        shared.metrics.bytes_out.add(command, len as u64);
    }
}

/// Whether `frame` is a `getdata` (by its command; the node decodes and checks the rest).
fn is_getdata(frame: &[u8]) -> bool {
    frame
        .get(node_core::protocol::MAGIC.len()..node_core::protocol::HEADER_LEN)
        .is_some_and(|command| command.starts_with(b"getdata\0"))
}

/// If `frame` is a `tx` whose every input signature holds, its txid; `Ok(None)` for other
/// frames (and undecodable ones, which the hub refuses). Signature checks are the cost of
/// taking a transaction in; done here, in each connection's task, they run on all cores at
/// once instead of one after another in the hub, which then trusts the txid. A transaction
/// verified before (another copy) is not checked again (see [`VerifiedTxs`]). A signature
/// that does not verify is an error: the check was paid for, so the sender is charged at
/// once (a bad signature spending unknown outputs would otherwise only wait as an orphan).
fn verified_transaction(
    verified: &VerifiedTxs,
    frame: &[u8],
) -> Result<Option<node_core::Txid>, node_core::ValidationError> {
    let Some(command) =
        frame.get(node_core::protocol::MAGIC.len()..node_core::protocol::HEADER_LEN)
    else {
        return Ok(None);
    };
    if !command.starts_with(b"tx\0") {
        return Ok(None);
    }
    match node_core::protocol::decode_frame(frame) {
        Ok(node_core::protocol::Message::Tx(tx)) if !tx.is_coinbase() => {
            verified.check(&tx).map(Some)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::protocol::{encode_frame, InvItem, Message};

    #[test]
    fn only_getdata_frames_are_held_back() {
        let getdata = encode_frame(&Message::GetData(vec![InvItem::Block(
            node_core::BlockHash::ZERO,
        )]));
        assert!(is_getdata(&getdata));
        assert!(!is_getdata(&encode_frame(&Message::Ping(1))));
        assert!(!is_getdata(&encode_frame(&Message::GetAddr)));
        assert!(!is_getdata(b"short"));
    }
}
