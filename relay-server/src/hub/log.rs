//! The hub's log: one line per notable thing the node reports, with every string a peer
//! chose shown escaped (see `crate::util::peer_text`).

use std::sync::atomic::Ordering;

use node_core::node::peers::PeerId;
use node_core::node::Notification;
use tracing::{debug, info, trace, warn};

use super::Hub;
use crate::util::peer_text::{peer_text, shown};

impl Hub {
    /// How the log names a peer: its handle, and its node id once it said it.
    pub(super) fn who(&self, peer: PeerId) -> String {
        match self.names.get(&peer) {
            Some(id) => format!("peer {peer} (node {})", peer_text(id)),
            None => format!("peer {peer}"),
        }
    }

    /// One log line per notable event.
    pub(super) fn log(&mut self, n: Notification) {
        match n {
            Notification::TipChanged {
                tip,
                height,
                reorg_depth,
            } => {
                if reorg_depth > 0 {
                    warn!(%tip, height, reorg_depth, "chain reorganised");
                } else {
                    debug!(%tip, height, "tip changed");
                }
            }
            Notification::BlockConnected { hash, height, txs } => {
                info!(%hash, height, txs, "block connected");
            }
            Notification::SideBlock { hash } => info!(%hash, "side-branch block stored"),
            Notification::BlockRejected { hash, reason, from } => {
                let from = from.map_or("this node".into(), |p| self.who(p));
                let reason = peer_text(&reason);
                warn!(%hash, "block from {from} rejected: {reason}");
            }
            Notification::TxAccepted { txid, from } => {
                let from = from.map_or("this node".into(), |p| self.who(p));
                info!(%txid, "transaction from {from} accepted");
            }
            Notification::TxRejected { txid, reason, from } => {
                let from = from.map_or("this node".into(), |p| self.who(p));
                let reason = peer_text(&reason);
                warn!(%txid, "transaction from {from} rejected: {reason}");
            }
            Notification::SyncProgress { height, target } => {
                info!(height, target, "sync progress");
            }
            Notification::PeerUp {
                peer,
                node_id,
                role,
                height,
            } => {
                info!(peer, node_id = %peer_text(&node_id), role = role.name(), height, "peer up");
                if let Some(entry) = self.peers.get(&peer) {
                    entry.handshaken.store(true, Ordering::Release);
                }
                self.names.insert(peer, node_id);
                self.roles.insert(peer, role);
            }
            Notification::PeerDown { peer, reason } => {
                let reason = self.close_reasons.remove(&peer).unwrap_or(reason);
                info!("{} down: {}", self.who(peer), peer_text(&reason));
                self.names.remove(&peer);
                self.roles.remove(&peer);
            }
            Notification::PeerPenalised {
                peer,
                score,
                reason,
            } => {
                warn!(
                    score,
                    "{} penalised: {}",
                    self.who(peer),
                    peer_text(&reason)
                );
            }
            Notification::AddrLearned(addrs) => {
                let ids: Vec<String> = addrs
                    .iter()
                    .map(|a| peer_text(&a.node_id).to_string())
                    .collect();
                debug!(nodes = %ids.join(", "), "nodes learned");
            }
            Notification::RejectReceived { peer, hash, reason } => {
                let reason = peer_text(&reason);
                warn!(%hash, "{} refused what we sent: {reason}", self.who(peer));
            }
            Notification::Mined { hash, height } => info!(%hash, height, "mined a block"),
            Notification::MessageIn {
                peer,
                command,
                summary,
                refused,
            } => {
                let refused = refused.as_deref().map_or_else(String::new, shown);
                trace!(peer, command = %peer_text(&command), summary = %peer_text(&summary),
                    refused, "message in");
            }
            Notification::MessageOut {
                peers,
                command,
                summary,
            } => trace!(?peers, command = %peer_text(&command), summary = %peer_text(&summary),
                "message out"),
        }
    }
}
