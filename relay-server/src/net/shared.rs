//! [`Shared`]: the state the HTTP handlers and the connection tasks share — the hub's
//! inbox, the admission tables, the limits and the shutdown signal.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use node_core::node::peers::PeerId;
use tokio::sync::{mpsc, watch};

use super::verified_txs::VerifiedTxs;
use crate::admission::client_address::client_address;
use crate::admission::served_names::ServedNames;
use crate::admission::{Bans, ConnectionSlot, Limits, PeerSlots, SlotRefusal};
use crate::hub::send_queue::SendBudget;
use crate::hub::HubMsg;
use crate::metrics::Metrics;

/// State shared by the HTTP handlers and the connection tasks.
pub struct Shared {
    /// The hub's inbox.
    pub hub: mpsc::Sender<HubMsg>,
    /// The control endpoint's secret.
    pub cookie: String,
    /// Addresses refused for misbehaviour (the hub refuses, `/ws` asks).
    pub bans: Arc<Bans>,
    /// WebSocket connections, both directions, counted (see [`PeerSlots`]).
    pub slots: Arc<PeerSlots>,
    /// What peers may use.
    pub limits: Limits,
    /// Raised once when the node stops.
    pub shutdown: watch::Receiver<bool>,
    /// The host names requests may be addressed to.
    pub names: ServedNames,
    /// Bytes queued for all peers, against `limits.max_send_total`.
    pub send_budget: Arc<SendBudget>,
    /// Transactions whose signatures were checked recently, by txid.
    pub verified_txs: VerifiedTxs,
    /// Whether relays learned from peers may be dialled on this machine's own addresses
    /// (this relay listens on loopback; see [`super::dial_policy`]).
    pub dial_own_machine: bool,
    /// What the connection tasks and the hub count for `/metrics`.
    pub metrics: Arc<Metrics>,
    next_peer: AtomicU64,
}

impl Shared {
    /// State for a node whose hub listens on `hub`.
    pub fn new(
        hub: mpsc::Sender<HubMsg>,
        cookie: String,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let names = ServedNames::new(None, &limits.allowed_origins, &limits.allowed_hosts);
        let send_budget = SendBudget::new(limits.max_send_total);
        Shared {
            hub,
            cookie,
            bans: Arc::new(Bans::new(limits.ban_duration)),
            slots: PeerSlots::new(
                limits.max_peers,
                limits.max_peers_per_ip,
                limits.max_loopback_peers,
            ),
            limits,
            shutdown,
            names,
            send_budget,
            dial_own_machine: true,
            verified_txs: VerifiedTxs::default(),
            metrics: Arc::new(Metrics::default()),
            next_peer: AtomicU64::new(1),
        }
    }

    /// The same, listening on `local`: learned relays on this machine's own addresses are
    /// dialled only if that is loopback.
    pub fn listening_on(mut self, local: SocketAddr) -> Self {
        self.dial_own_machine = local.ip().is_loopback();
        self
    }

    /// The same, serving `names` (built with the node's `--public-url`).
    pub fn with_names(mut self, names: ServedNames) -> Self {
        self.names = names;
        self
    }

    /// The address a request from TCP peer `peer` with `headers` is charged to.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_address(peer, headers, &self.limits.trusted_proxies)
    }

    /// A fresh handle for a new connection.
    pub fn next_peer_id(&self) -> PeerId {
        self.next_peer.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts an inbound connection from `ip` (see [`PeerSlots::reserve_inbound`]).
    pub fn reserve_inbound(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, SlotRefusal> {
        self.slots.reserve_inbound(ip)
    }

    /// Counts an outbound connection (always allowed: the user asked for it).
    pub fn reserve_outbound(self: &Arc<Self>) -> ConnectionSlot {
        self.slots.reserve_outbound()
    }

    /// Whether `ip` is refused now (never loopback).
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        self.bans.is_refused(ip)
    }
}
