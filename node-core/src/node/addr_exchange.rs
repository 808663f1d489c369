//! Addresses between peers: what a peer says of itself at the handshake, `getaddr` and
//! `addr`, and dialling the relays learned that way. The book itself is
//! [`AddrBook`](super::addr_book::AddrBook), the choice of whom to dial
//! [`Dialer`](super::dialer::Dialer); this is the node's side of both.

use alloc::vec::Vec;

use crate::protocol::{Message, PeerAddr, Role, Version};

use super::addr_book::AddrBook;
use super::dialer::Dialer;
use super::peers::PeerId;
use super::{Action, Node, Notification};

/// Nodes handed out per `getaddr` (answered once per connection): enough to fail over and
/// find relays, small enough that asking costs the node little.
pub const GETADDR_ANSWER_MAX: usize = 250;

/// An odd 64-bit multiplier (an xorshift* constant) spreading the sample count over the
/// seed's bits, so consecutive `getaddr` answers draw different samples.
const SAMPLE_SEED_MULTIPLIER: u64 = 0x2545_f491_4f6c_dd1d;

/// The book, the dialer, and the count that makes each sample differ.
pub(super) struct AddrExchange {
    pub(super) book: AddrBook,
    dialer: Dialer,
    /// `getaddr` answers given, to draw each sample differently.
    samples: u64,
}

impl AddrExchange {
    /// Keeps `dial_learned` outbound connections (0: never dials).
    pub(super) fn new(dial_learned: usize) -> Self {
        AddrExchange {
            book: AddrBook::new(),
            dialer: Dialer::new(dial_learned),
            samples: 0,
        }
    }
}

impl Node {
    /// After a handshake: records what the peer says of itself, asks it for addresses, and
    /// tells the others about it if it is news (a reconnect of a known node says nothing
    /// new and sends nothing).
    pub(super) fn introduce(&mut self, id: PeerId, v: &Version) {
        let news = self.remember_peer(id, v);
        self.out.send(id, &Message::GetAddr);
        if let Some(addr) = news {
            let others: Vec<PeerId> = self
                .peers
                .values()
                .filter(|p| p.id != id && p.handshake.is_complete())
                .map(|p| p.id)
                .collect();
            self.out
                .broadcast(others, &Message::Addr(alloc::vec![addr]));
        }
    }

    /// Records what a peer that just shook hands says of itself; returns the entry to tell
    /// others about if it is news. A relay this node dialled is met first-hand, under the
    /// URL dialled. Anything else a peer says of itself — its id, the URL it claims to listen
    /// on — binds to its own connection: it enters the book as that peer's word, and
    /// rewrites nothing known of another node.
    fn remember_peer(&mut self, id: PeerId, v: &Version) -> Option<PeerAddr> {
        if v.node_id == self.config.node_id {
            return None;
        }
        let book = &mut self.addrs.book;
        match self.peers.get(&id).and_then(|p| p.dialled.as_deref()) {
            Some(url) => book
                .met_first_hand(url, &v.node_id, v.role, self.now)
                .then(|| PeerAddr {
                    node_id: v.node_id.clone(),
                    url: Some(url.into()),
                    role: v.role,
                }),
            None => {
                let claim = PeerAddr {
                    node_id: v.node_id.clone(),
                    url: v.listen_url.clone(),
                    role: v.role,
                };
                book.learn(id, [claim]).pop()
            }
        }
    }

    /// Answers `getaddr` once per connection with a sample of the book (every relay met
    /// first-hand, then learned ones drawn at random), at most [`GETADDR_ANSWER_MAX`].
    pub(super) fn on_getaddr(&mut self, id: PeerId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if p.getaddr_answered {
            return;
        }
        p.getaddr_answered = true;
        self.addrs.samples += 1;
        // The process nonce is random; the count makes every sample differ.
        let seed = self.config.nonce ^ self.addrs.samples.wrapping_mul(SAMPLE_SEED_MULTIPLIER);
        let addrs = self.addrs.book.sample(GETADDR_ANSWER_MAX, seed);
        if !addrs.is_empty() {
            self.out.send(id, &Message::Addr(addrs));
        }
    }

    /// Addresses from `id`: learned (never our own), and dialled if we want connections.
    pub(super) fn on_addr(&mut self, id: PeerId, addrs: Vec<PeerAddr>) {
        let own = &self.config.node_id;
        let learned = self
            .addrs
            .book
            .learn(id, addrs.into_iter().filter(|a| &a.node_id != own));
        if !learned.is_empty() {
            self.out.notify(Notification::AddrLearned(learned));
            self.dial_learned();
        }
    }

    /// Dials learned relays while outbound connections are below the target.
    pub(super) fn dial_learned(&mut self) {
        if self.config.dial_learned == 0 || !cfg!(feature = "dial") {
            return;
        }
        let outbound = self.peers.values().filter(|p| p.outbound).count();
        if outbound >= self.config.dial_learned {
            return;
        }
        // A relay is reached when a connection was dialled to its URL, or a relay that
        // dialled us says it listens there.
        let connected: Vec<&str> = self
            .peers
            .values()
            .filter_map(|p| {
                p.dialled.as_deref().or_else(|| {
                    p.handshake
                        .version
                        .as_ref()
                        .filter(|v| v.role == Role::Relay && p.handshake.is_complete())
                        .and_then(|v| v.listen_url.as_deref())
                })
            })
            .collect();
        let AddrExchange { book, dialer, .. } = &mut self.addrs;
        let urls = dialer.choose(
            self.now,
            book.entries().into_iter(),
            |url| connected.contains(&url),
            outbound,
            self.config.listen_url.as_deref(),
        );
        for url in urls {
            self.out.push(Action::Dial { url });
        }
    }
}
