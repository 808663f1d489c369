//! The `version`/`verack` handshake: what we say of ourselves, what we accept of a peer,
//! and what follows once both sides have spoken.
//!
//! A peer on another genesis or protocol, or this node itself, is dropped at its `version`.
//! Once the handshake completes, the node introduces the peer to the others, offers it the
//! mempool, asks it for a better chain if it has one, and tells it the tip.

use alloc::format;

use crate::chain::Chain;
use crate::primitives::hash::BlockHash;
use crate::protocol::{Message, Role, Version, PROTOCOL_VERSION};

use super::peers::PeerId;
use super::{score, Node, Notification};

impl Node {
    /// Our `version`, as of now.
    fn our_version(&self) -> Version {
        let (genesis, best_height, tip, chain_work) = match &self.chain {
            Some(c) => (c.genesis_hash(), c.height(), c.tip(), c.tip_work()),
            None => (
                self.genesis.expected.unwrap_or(BlockHash::ZERO),
                0,
                BlockHash::ZERO,
                0,
            ),
        };
        let role = if self.mining.is_on() {
            Role::Miner
        } else {
            self.config.role
        };
        Version {
            protocol: PROTOCOL_VERSION,
            genesis,
            best_height,
            tip,
            chain_work,
            node_id: self.config.node_id.clone(),
            role,
            listen_url: self.config.listen_url.clone(),
            nonce: self.config.nonce,
            user_agent: self.config.user_agent.clone(),
        }
    }

    /// Sends our `version` to `id`.
    pub(super) fn send_version(&mut self, id: PeerId) {
        let v = self.our_version();
        if let Some(p) = self.peers.get_mut(&id) {
            p.handshake.version_sent = true;
        }
        self.out.send(id, &Message::Version(v));
    }

    /// A peer's `version`: checked, remembered, answered with ours (if not sent yet) and a
    /// `verack`.
    pub(super) fn on_version(&mut self, id: PeerId, v: Version) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let named = peer.named;
        if peer.handshake.version.is_some() {
            self.penalise(
                id,
                score::DUPLICATE_VERSION,
                "second version message".into(),
            );
            return;
        }
        if v.nonce == self.config.nonce && v.nonce != 0 {
            self.disconnect(id, "connected to itself".into(), false);
            return;
        }
        if v.protocol != PROTOCOL_VERSION {
            let reason = format!("unsupported protocol version {}", v.protocol);
            self.disconnect(id, reason, false);
            return;
        }
        let ours = self
            .chain
            .as_ref()
            .map(Chain::genesis_hash)
            .or(self.genesis.expected);
        match ours {
            Some(g) if v.genesis != BlockHash::ZERO && v.genesis != g => {
                let reason = format!("different genesis: peer has {}, we have {}", v.genesis, g);
                self.disconnect(id, reason, false);
                return;
            }
            // Only a peer the operator named fixes the genesis of a node without a chain;
            // what any other peer says of its genesis binds to its own connection only.
            None if v.genesis != BlockHash::ZERO && named => {
                self.genesis.expected = Some(v.genesis);
                self.drop_peers_on_other_genesis(id, v.genesis);
            }
            _ => {}
        }
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let version_sent = peer.handshake.version_sent;
        peer.best_height = v.best_height;
        peer.handshake.version = Some(v);
        if !version_sent {
            self.send_version(id);
        }
        self.out.send(id, &Message::Verack);
        self.maybe_complete_handshake(id);
    }

    /// A peer's `verack`.
    pub(super) fn on_verack(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if peer.handshake.verack_received {
            self.penalise(id, score::DUPLICATE_VERSION, "second verack".into());
            return;
        }
        peer.handshake.verack_received = true;
        self.maybe_complete_handshake(id);
    }

    /// Once both sides have spoken: keeps or closes a duplicate relay link, tells the page,
    /// and sets the new peer to work.
    fn maybe_complete_handshake(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if !peer.handshake.is_complete() {
            return;
        }
        let outbound = peer.outbound;
        // Owned: what follows changes the peer set (and may close this very link).
        let Some(v) = peer.handshake.version.clone() else {
            return;
        };
        if !self.keep_relay_link(id, outbound, &v) {
            return;
        }
        self.out.notify(Notification::PeerUp {
            peer: id,
            node_id: v.node_id.clone(),
            role: v.role,
            height: v.best_height,
        });
        self.introduce(id, &v);
        self.offer_mempool(id);
        self.ask_for_better_chain(id, &v);
        self.announce_tip_to(id, v.tip);
    }

    /// Two relays that dial each other at once (each learned of the other from `addr`) end up
    /// with two connections, one each way, whose `version`s carry the same process nonce.
    /// The one the relay with the lower node id dialled is kept: the lower relay closes the
    /// other (its inbound one), and the higher relay closes nothing, so they agree without
    /// talking. Only an inbound connection is ever closed here: a node id and nonce are
    /// public (every `version` carries them), so closing a connection this node dialled on the
    /// word of one that dialled in would let anyone who copies them cut the link. Connections
    /// the same way (a relay that restarted while its old connection lingers) or with another
    /// nonce are left alone. Returns whether the connection `id`, just past its handshake,
    /// stays.
    fn keep_relay_link(&mut self, id: PeerId, outbound: bool, v: &Version) -> bool {
        if v.role != Role::Relay || self.config.node_id >= v.node_id {
            return true;
        }
        let Some(other) = self
            .peers
            .values()
            .find(|p| {
                p.id != id
                    && p.outbound != outbound
                    && p.handshake.is_complete()
                    && p.handshake
                        .version
                        .as_ref()
                        .is_some_and(|o| o.node_id == v.node_id && o.nonce == v.nonce)
            })
            .map(|p| p.id)
        else {
            return true;
        };
        // Our id is the lower: the inbound connection is the other relay's dial.
        let (close, kept) = if outbound { (other, id) } else { (id, other) };
        self.disconnect(
            close,
            format!(
                "already connected to relay {} (connection #{kept})",
                v.node_id
            ),
            false,
        );
        close != id
    }
}
