//! How the hub carries out the node's actions: node-core's [`Shell`], implemented with the
//! relay's means — per-peer send queues, the redb store, the dialler and the miner.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use node_core::chain::ChainChanges;
use node_core::node::peers::PeerId;
use node_core::node::shell::Shell;
use node_core::node::{Event, MiningJob, Notification};
use tracing::{debug, info, warn};

use super::send_queue::QueueRefusal;
use super::{Hub, PeerEntry};
use crate::store::StoreError;
use crate::util::now_ms;
use crate::util::peer_text::peer_text;

impl Shell for Hub {
    type Error = Arc<StoreError>;

    fn send(&mut self, peer: PeerId, frame: Vec<u8>) {
        self.send_to(peer, Bytes::from(frame));
    }

    /// One buffer shared by every peer's queue.
    fn broadcast(&mut self, peers: Vec<PeerId>, frame: Vec<u8>) {
        let frame = Bytes::from(frame);
        for peer in peers {
            self.send_to(peer, frame.clone());
        }
    }

    fn disconnect(&mut self, peer: PeerId, reason: String, misbehaved: bool) {
        if let Some(entry) = self.close(peer, &reason) {
            if misbehaved {
                self.refuse_address(entry.ip, &reason, "protocol");
            }
        }
    }

    fn persist(&mut self, changes: ChainChanges) -> Result<(), Self::Error> {
        self.commit(&changes)?;
        self.node.changes_stored(changes.batch);
        Ok(())
    }

    fn dial(&mut self, url: String) {
        self.wiring.dialer.dial(url);
    }

    fn mine(&mut self, job: MiningJob) {
        info!(
            job = job.id,
            height = job.template.coinbase_height().unwrap_or(0),
            txs = job.template.transactions.len(),
            "mining a block"
        );
        self.miner.start(job);
    }

    fn stop_mining(&mut self) {
        debug!("mining stopped");
        self.miner.stop();
    }

    fn notify(&mut self, notification: Notification) {
        self.log(notification);
    }
}

impl Hub {
    /// Queues a frame for a peer. A peer whose queue would go over its limit is dropped; so
    /// are the peers holding the most, while the relay's total would.
    fn send_to(&mut self, peer: PeerId, frame: Bytes) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        let budget = self.wiring.send_budget.clone();
        while !budget.fits(frame.len()) {
            let largest = self
                .peers
                .iter()
                .max_by_key(|(_, e)| e.queue.bytes())
                .map(|(id, _)| *id);
            let Some(largest) = largest else { break };
            let reason = format!(
                "the relay's send queues are full ({} bytes) and this peer's is the largest",
                budget.limit
            );
            self.drop_slow(largest, &reason);
            if largest == peer {
                return;
            }
        }
        let Some(entry) = self.peers.get(&peer) else {
            return;
        };
        match entry.queue.push(frame) {
            Ok(()) | Err(QueueRefusal::Closed) => {}
            Err(full @ QueueRefusal::Full(_)) => self.drop_slow(peer, &full.to_string()),
        }
    }

    /// Drops a peer that does not read, freeing what was queued for it at once.
    fn drop_slow(&mut self, peer: PeerId, reason: &str) {
        if let Some(entry) = self.peers.get(&peer) {
            entry.queue.discard();
        }
        if self.close(peer, reason).is_some() {
            self.node.handle(now_ms(), Event::PeerDisconnected { peer });
        }
    }

    /// Tells a connection to close and forgets it.
    fn close(&mut self, peer: PeerId, reason: &str) -> Option<PeerEntry> {
        let mut entry = self.peers.remove(&peer)?;
        // Frames queued before (a `reject`, say) are still written; nothing after.
        entry.queue.close();
        if let Some(close) = entry.close.take() {
            let _ = close.send(reason.to_string());
        }
        self.close_reasons.insert(peer, reason.to_string());
        Some(entry)
    }

    /// Refuses a misbehaving address for a while, except loopback: every tab of a local
    /// browser shares it, so one bad tab must not lock out the others.
    /// `label` is the reason's name in [`crate::metrics::BAN_REASONS`].
    pub(super) fn refuse_address(&self, ip: IpAddr, reason: &str, label: &'static str) {
        let bans = &self.wiring.bans;
        if bans.refuse(ip) {
            self.wiring.metrics.bans.add(label, 1);
            let secs = bans.duration().as_secs();
            let reason = peer_text(reason);
            warn!(%ip, "address refused for {secs} s: {reason}");
        } else {
            let reason = peer_text(reason);
            info!(%ip, "misbehaving loopback peer disconnected, address not refused: {reason}");
        }
    }
}
