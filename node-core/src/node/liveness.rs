//! Whether each peer is still worth its connection: handshake and request deadlines, and
//! pings. Runs once a tick; the limits are [`NodeConfig`](super::NodeConfig)'s timeouts.

use alloc::string::String;
use alloc::vec::Vec;

use crate::protocol::Message;

use super::peers::PeerId;
use super::Node;

impl Node {
    /// Drops peers past a deadline, marks unanswered `getblocks` as disproving a height
    /// claim; returns the idle peers to ping.
    pub(super) fn check_liveness(&mut self) -> Vec<PeerId> {
        let now = self.now;
        let config = &self.config;
        let mut drops = Vec::new();
        let mut pings = Vec::new();
        for p in self.peers.values_mut() {
            if !p.handshake.is_complete() {
                if now.saturating_sub(p.connected_at) > config.handshake_timeout_ms {
                    drops.push((p.id, String::from("no handshake in time")));
                }
                continue;
            }
            if let Some(t) = p.oldest_request() {
                if now.saturating_sub(t) > config.stall_timeout_ms {
                    drops.push((p.id, String::from("stalled: requested blocks never came")));
                    continue;
                }
            }
            if p.getblocks_sent
                .is_some_and(|t| now.saturating_sub(t) > config.stall_timeout_ms)
            {
                // Asked for the blocks after ours, it named none: whatever height it
                // claimed, it has nothing for us.
                p.getblocks_sent = None;
                p.claim_unbacked = true;
            }
            match p.ping {
                Some((_, sent)) if now.saturating_sub(sent) > config.ping_timeout_ms => {
                    drops.push((p.id, String::from("ping timeout")));
                }
                None if now.saturating_sub(p.last_ping) >= config.ping_interval_ms => {
                    pings.push(p.id);
                }
                _ => {}
            }
        }
        for (id, reason) in drops {
            self.disconnect(id, reason, false);
        }
        pings
    }

    /// Pings peers `ids`.
    pub(super) fn send_pings(&mut self, ids: Vec<PeerId>) {
        for id in ids {
            let nonce = self.next_ping;
            self.next_ping += 1;
            if let Some(p) = self.peers.get_mut(&id) {
                p.ping = Some((nonce, self.now));
                p.last_ping = self.now;
            }
            self.out.send(id, &Message::Ping(nonce));
        }
    }

    /// A `pong`: the round trip, if it answers our ping.
    pub(super) fn on_pong(&mut self, id: PeerId, nonce: u64) {
        if let Some(p) = self.peers.get_mut(&id) {
            if let Some((n, sent)) = p.ping {
                if n == nonce {
                    p.rtt_ms = Some(self.now.saturating_sub(sent));
                    p.ping = None;
                }
            }
        }
    }
}
