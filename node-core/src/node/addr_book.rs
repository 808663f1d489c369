//! The address book: where relays can be reached, and which nodes exist.
//!
//! Addresses come from peers — `addr` messages, and what each peer says of itself in its
//! `version` — and are claims, not facts. The book keeps them in two parts:
//!
//! - **First-hand**: relays this node dialled itself and shook hands with, under the URL it
//!   dialled (what the node knows, not what it was told). At most [`FIRST_HAND_CAP`], the
//!   least recently met evicted first. Nothing a peer sends adds, changes or evicts one, so a
//!   node that fails over or looks for relays always finds the ones it has met.
//! - **Learned**: what peers told. An entry is keyed by its URL (a node without one, a tab,
//!   by its id), so it is never rewritten: the first word on a URL stands, a URL known
//!   first-hand is not learned at all, and a peer that claims another node's id only adds
//!   its own URL under that name. Each source (one connection) fills at most
//!   [`PER_SOURCE_CAP`] of the [`LEARNED_CAP`] entries; when the table is full, entries from
//!   sources that have gone are evicted first, then the oldest of the largest source still
//!   connected, and never for a source that would then hold more than that one.
//!
//! `getaddr` is answered with [`AddrBook::sample`]: every first-hand relay, then learned
//! entries picked with a seed the caller passes (node-core has no random source).

use alloc::vec::Vec;

use crate::primitives::hash::{sha256, Hash256};
use crate::protocol::{PeerAddr, Role};
use crate::util::keyed_map::KeyedMap;
use crate::util::ordering;

/// Who told us an address: the connection it came over.
pub type Source = u64;

/// Relays met first-hand kept at most: more than any node keeps connections to, so the ones
/// it uses are never the ones evicted.
pub const FIRST_HAND_CAP: usize = 64;
/// Learned entries kept at most: every node of a network of this project's size, with room
/// to spare, in a few hundred kilobytes at most.
pub const LEARNED_CAP: usize = 1_024;
/// Learned entries one source fills at most: 1/16 of the table, so an `addr` flood from one
/// connection leaves fifteen sixteenths to everyone else.
pub const PER_SOURCE_CAP: usize = LEARNED_CAP / 16;

#[derive(Debug, Clone)]
struct FirstHand {
    addr: PeerAddr,
    last_met: u64,
}

#[derive(Debug, Clone)]
struct Learned {
    addr: PeerAddr,
    /// `None` once the connection it came over has closed.
    source: Option<Source>,
    /// Arrival order.
    seq: u64,
}

/// Relays met first-hand and nodes heard of; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct AddrBook {
    /// Most recently met last.
    first_hand: Vec<FirstHand>,
    /// Keyed by the SHA-256 of [`key_of`]: the one B-tree instance every hash-keyed map
    /// shares (`keyed_map`), not one more for strings; nothing depends on the table's order.
    learned: KeyedMap<Hash256, Learned>,
    next_seq: u64,
}

/// Whether a string a peer sent can be shown and stored: no control characters and no
/// bidirectional overrides, which could forge log lines or make one name look like another.
pub fn displayable(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

/// Whether `addr` is worth keeping: a non-empty, displayable node id, and a URL that is a
/// displayable `ws://` or `wss://` URL without spaces, if there is one.
fn acceptable(addr: &PeerAddr) -> bool {
    let url_ok = addr.url.as_deref().is_none_or(|u| {
        (u.starts_with("ws://") || u.starts_with("wss://"))
            && displayable(u)
            && !u.contains(char::is_whitespace)
    });
    !addr.node_id.is_empty() && displayable(&addr.node_id) && url_ok
}

/// The learned table's key: the SHA-256 of the URL, or of `node ` and the node id of a node
/// without one. URLs start with `ws`, so the two kinds never collide.
fn key_of(addr: &PeerAddr) -> Hash256 {
    match &addr.url {
        Some(url) => sha256(url.as_bytes()),
        None => sha256(&[b"node ", addr.node_id.as_bytes()].concat()),
    }
}

/// A well-mixed 64-bit value of `x` (SplitMix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl AddrBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// This node dialled `url` and the node there said it is `node_id`, a `role`: that is
    /// first-hand. Returns whether the URL is news to the first-hand part.
    pub fn met_first_hand(&mut self, url: &str, node_id: &str, role: Role, now: u64) -> bool {
        let addr = PeerAddr {
            node_id: node_id.into(),
            url: Some(url.into()),
            role,
        };
        if !acceptable(&addr) {
            return false;
        }
        self.learned.remove(&sha256(url.as_bytes()));
        let known = self
            .first_hand
            .iter()
            .position(|f| f.addr.url.as_deref() == Some(url));
        let is_new = known.is_none();
        if let Some(i) = known {
            self.first_hand.remove(i);
        } else if self.first_hand.len() >= FIRST_HAND_CAP {
            // Kept in order of meeting: the first is the least recently met.
            self.first_hand.remove(0);
        }
        self.first_hand.push(FirstHand {
            addr,
            last_met: now,
        });
        is_new
    }

    /// Learns what `source` told about other nodes; returns the entries that were news.
    /// Entries already known (first-hand or learned, by URL) are left as they are.
    pub fn learn(
        &mut self,
        source: Source,
        addrs: impl IntoIterator<Item = PeerAddr>,
    ) -> Vec<PeerAddr> {
        let mut counts = self.counts_by_source();
        let mut news = Vec::new();
        for addr in addrs {
            if !acceptable(&addr) {
                continue;
            }
            let key = key_of(&addr);
            let first_hand = addr
                .url
                .as_deref()
                .is_some_and(|url| self.is_first_hand(url));
            if first_hand || self.learned.contains_key(&key) {
                continue;
            }
            let mine = count_of(&counts, Some(source));
            if mine >= PER_SOURCE_CAP {
                break;
            }
            if self.learned.len() >= LEARNED_CAP {
                let Some(victim) = self.victim(&counts, mine) else {
                    break;
                };
                if let Some(gone) = self.learned.remove(&victim) {
                    add_count(&mut counts, gone.source, -1);
                }
            }
            self.learned.insert(
                key,
                Learned {
                    addr: addr.clone(),
                    source: Some(source),
                    seq: self.next_seq,
                },
            );
            self.next_seq += 1;
            add_count(&mut counts, Some(source), 1);
            news.push(addr);
        }
        news
    }

    /// The connection `source` closed: its entries stay, but are the first to make room.
    pub fn source_gone(&mut self, source: Source) {
        self.learned.retain(|_, e| {
            if e.source == Some(source) {
                e.source = None;
            }
            true
        });
    }

    /// The learned entry to evict for a source holding `mine` entries: the oldest from a
    /// source that has gone, else the oldest of the largest live source, if that one holds
    /// more than the newcomer would.
    fn victim(&self, counts: &[(Option<Source>, usize)], mine: usize) -> Option<Hash256> {
        let gone = self
            .learned
            .iter()
            .filter(|(_, e)| e.source.is_none())
            .min_by_key(|(_, e)| e.seq);
        if let Some((k, _)) = gone {
            return Some(*k);
        }
        let (largest, n) = counts
            .iter()
            .filter(|(s, _)| s.is_some())
            .max_by_key(|(_, n)| *n)?;
        if *n <= mine + 1 {
            return None;
        }
        self.learned
            .iter()
            .filter(|(_, e)| e.source == *largest)
            .min_by_key(|(_, e)| e.seq)
            .map(|(k, _)| *k)
    }

    fn counts_by_source(&self) -> Vec<(Option<Source>, usize)> {
        let mut counts = Vec::new();
        for e in self.learned.values() {
            add_count(&mut counts, e.source, 1);
        }
        counts
    }

    /// Up to `max` entries to hand a peer that asked: every first-hand relay (most recently
    /// met first), then learned entries in an order drawn from `seed`, so no sender decides
    /// which of its entries are passed on.
    pub fn sample(&self, max: usize, seed: u64) -> Vec<PeerAddr> {
        let mut out: Vec<PeerAddr> = self
            .first_hand
            .iter()
            .rev()
            .map(|f| f.addr.clone())
            .take(max)
            .collect();
        let room = max - out.len();
        let learned: Vec<&Learned> = self.learned.values().collect();
        let shuffled = ordering::sorted_by_key(learned, |e| mix(seed ^ mix(e.seq)));
        out.extend(shuffled.into_iter().take(room).map(|e| e.addr.clone()));
        out
    }

    /// Every entry: first-hand relays (most recently met first), then learned ones in the
    /// order they arrived. A node failing over tries them in this order.
    pub fn all(&self) -> Vec<PeerAddr> {
        self.entries().into_iter().cloned().collect()
    }

    /// [`AddrBook::all`], borrowed.
    pub fn entries(&self) -> Vec<&PeerAddr> {
        let mut out: Vec<&PeerAddr> = self.first_hand.iter().rev().map(|f| &f.addr).collect();
        let learned: Vec<&Learned> = self.learned.values().collect();
        let learned = ordering::sorted_by_key(learned, |e| e.seq);
        out.extend(learned.into_iter().map(|e| &e.addr));
        out
    }

    /// Whether `url` was met first-hand.
    pub fn is_first_hand(&self, url: &str) -> bool {
        self.first_hand
            .iter()
            .any(|f| f.addr.url.as_deref() == Some(url))
    }

    /// When the relay at `url` was last met first-hand.
    pub fn last_met(&self, url: &str) -> Option<u64> {
        self.first_hand
            .iter()
            .find(|f| f.addr.url.as_deref() == Some(url))
            .map(|f| f.last_met)
    }

    /// Entries held, both parts.
    pub fn len(&self) -> usize {
        self.first_hand.len() + self.learned.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn count_of(counts: &[(Option<Source>, usize)], source: Option<Source>) -> usize {
    counts
        .iter()
        .find(|(s, _)| *s == source)
        .map_or(0, |(_, n)| *n)
}

fn add_count(counts: &mut Vec<(Option<Source>, usize)>, source: Option<Source>, delta: isize) {
    match counts.iter_mut().find(|(s, _)| *s == source) {
        Some((_, n)) => *n = n.saturating_add_signed(delta),
        None if delta > 0 => counts.push((source, delta as usize)),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn relay(id: &str, url: &str) -> PeerAddr {
        PeerAddr {
            node_id: id.into(),
            url: Some(url.into()),
            role: Role::Relay,
        }
    }

    fn flood(from: &str, n: usize) -> Vec<PeerAddr> {
        (0..n)
            .map(|i| relay(&format!("{from}{i}"), &format!("ws://{from}{i}.test/ws")))
            .collect()
    }

    fn urls(addrs: &[PeerAddr]) -> Vec<&str> {
        addrs.iter().filter_map(|a| a.url.as_deref()).collect()
    }

    #[test]
    fn one_source_fills_only_its_share_of_the_table() {
        let mut book = AddrBook::new();
        let news = book.learn(1, flood("evil", 1_000));
        assert_eq!(news.len(), PER_SOURCE_CAP);
        assert_eq!(book.len(), PER_SOURCE_CAP);
        // An honest source still has room.
        assert_eq!(book.learn(2, [relay("9", "ws://good.test/ws")]).len(), 1);
    }

    #[test]
    fn a_flood_from_many_sources_never_evicts_a_relay_met_first_hand() {
        let mut book = AddrBook::new();
        book.met_first_hand("ws://hub.test/ws", "3000", Role::Relay, 5);
        for source in 0..100 {
            book.learn(source, flood(&format!("s{source}x"), PER_SOURCE_CAP));
        }
        assert!(book.is_first_hand("ws://hub.test/ws"));
        assert_eq!(urls(&book.all())[0], "ws://hub.test/ws");
        assert_eq!(urls(&book.sample(10, 7))[0], "ws://hub.test/ws");
        assert_eq!(book.len(), 1 + LEARNED_CAP);
    }

    #[test]
    fn a_full_table_evicts_gone_sources_first_then_the_largest() {
        let mut book = AddrBook::new();
        for source in 0..16 {
            book.learn(source, flood(&format!("s{source}x"), PER_SOURCE_CAP));
        }
        assert_eq!(book.len(), LEARNED_CAP);
        let from = |book: &AddrBook, prefix: &str| {
            book.all()
                .iter()
                .filter(|a| a.node_id.starts_with(prefix))
                .count()
        };
        // The connection of source 3 closed: newcomers take its room, nobody else's.
        book.source_gone(3);
        assert_eq!(book.learn(100, flood("late", 10)).len(), 10);
        assert_eq!(from(&book, "s3x"), PER_SOURCE_CAP - 10);
        assert!((0..16)
            .filter(|s| *s != 3)
            .all(|s| from(&book, &format!("s{s}x")) == PER_SOURCE_CAP));
        // With no gone source left to evict, a newcomer takes from the largest, and only
        // while that one holds more than the newcomer would.
        let mut b = AddrBook::new();
        for source in 0..16 {
            b.learn(source, flood(&format!("s{source}x"), PER_SOURCE_CAP));
        }
        let took = b.learn(200, flood("n", PER_SOURCE_CAP)).len();
        assert!(took > PER_SOURCE_CAP / 2 && took < PER_SOURCE_CAP, "{took}");
        assert_eq!(b.len(), LEARNED_CAP);
        assert!((0..16).all(|s| from(&b, &format!("s{s}x")) >= PER_SOURCE_CAP - 8));
    }

    #[test]
    fn nobody_rewrites_what_is_known_of_a_url() {
        let mut book = AddrBook::new();
        book.learn(1, [relay("3001", "ws://good.test/ws")]);
        book.learn(2, [relay("evil", "ws://good.test/ws")]);
        book.met_first_hand("ws://hub.test/ws", "3000", Role::Relay, 1);
        // A claim about the hub's id only adds the claimer's own URL.
        book.learn(2, [relay("3000", "ws://evil.test/ws")]);
        book.learn(2, [relay("3000", "ws://hub.test/ws")]);
        let all = book.all();
        let of = |url: &str| all.iter().find(|a| a.url.as_deref() == Some(url)).cloned();
        assert_eq!(
            of("ws://good.test/ws").map(|a| a.node_id),
            Some("3001".into())
        );
        assert_eq!(
            of("ws://hub.test/ws").map(|a| a.node_id),
            Some("3000".into())
        );
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn meeting_a_learned_relay_first_hand_moves_it_out_of_reach_of_floods() {
        let mut book = AddrBook::new();
        book.learn(1, [relay("3001", "ws://a.test/ws")]);
        assert!(!book.is_first_hand("ws://a.test/ws"));
        assert!(book.met_first_hand("ws://a.test/ws", "3001", Role::Relay, 9));
        assert_eq!(book.len(), 1);
        assert!(!book.met_first_hand("ws://a.test/ws", "3001", Role::Relay, 10));
        assert_eq!(book.last_met("ws://a.test/ws"), Some(10));
    }

    #[test]
    fn the_first_hand_part_is_bounded_and_forgets_the_least_recently_met() {
        let mut book = AddrBook::new();
        for i in 0..FIRST_HAND_CAP as u64 + 1 {
            book.met_first_hand(&format!("ws://r{i}.test/ws"), "x", Role::Relay, i);
        }
        assert!(!book.is_first_hand("ws://r0.test/ws"));
        assert!(book.is_first_hand("ws://r1.test/ws"));
        assert_eq!(book.len(), FIRST_HAND_CAP);
    }

    #[test]
    fn a_sample_is_bounded_and_depends_on_the_seed() {
        let mut book = AddrBook::new();
        for source in 0..4 {
            book.learn(source, flood(&format!("s{source}x"), PER_SOURCE_CAP));
        }
        let a = book.sample(20, 1);
        let b = book.sample(20, 2);
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(book.sample(20, 1), a);
        // Not just the first arrivals.
        assert!(a.iter().any(|x| !x.node_id.starts_with("s0x")));
    }

    #[test]
    fn strings_that_could_forge_a_log_line_or_a_name_are_refused() {
        let mut book = AddrBook::new();
        let bad = [
            relay("a\nb", "ws://x.test/ws"),
            relay("\u{202e}3001", "ws://y.test/ws"),
            relay("ok", "http://z.test/"),
            relay("ok", "ws://z.test/ws\n"),
            relay("", "ws://w.test/ws"),
        ];
        assert!(book.learn(1, bad).is_empty());
        assert!(!book.met_first_hand("ws://v.test/ws", "\u{2066}x", Role::Relay, 0));
        assert!(book.is_empty());
    }

    #[test]
    fn nodes_without_a_url_are_kept_by_id_and_never_clash_with_urls() {
        let mut book = AddrBook::new();
        let tab = PeerAddr {
            node_id: "3005".into(),
            url: None,
            role: Role::Wallet,
        };
        assert_eq!(book.learn(1, [tab.clone(), tab]).len(), 1);
        assert_eq!(book.learn(1, [relay("3005", "ws://t.test/ws")]).len(), 1);
        assert_eq!(book.len(), 2);
    }
}
