//! Which learned relays to dial: peer discovery beyond the peers a node was started with.
//!
//! Relays announce where they listen in `version`, and nodes pass the addresses on with
//! `addr`. A node configured to keep `target` outbound connections dials relays it learned of
//! this way until it has that many: so relays peered only through a hub find each other, and
//! keep exchanging blocks when the hub goes down.
//!
//! Addresses come from peers and are not trusted: only `ws://` and `wss://` URLs are dialled,
//! each URL at most once per [`DIAL_RETRY_MS`], and a dial counts against the target until
//! it connects or [`DIAL_PENDING_MS`] pass, so a flood of made-up addresses costs a few
//! failed dials a minute, never a burst. Attempts are kept by URL, the thing dialled: a node
//! id is only what the other end says, and two entries may claim the same one.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::protocol::PeerAddr;
use crate::util::ordering;

/// A node is dialled again at most this often (ms).
pub const DIAL_RETRY_MS: u64 = 60_000;
/// A dial not yet seen connected counts as an outbound connection for this long (ms).
pub const DIAL_PENDING_MS: u64 = 15_000;

/// Dial attempts and the outbound target.
#[derive(Debug, Clone, Default)]
pub struct Dialer {
    target: usize,
    /// Time of the last attempt to dial each URL still known.
    attempts: BTreeMap<String, u64>,
}

impl Dialer {
    /// Keeps `target` outbound connections (0: never dials).
    pub fn new(target: usize) -> Self {
        Dialer {
            target,
            attempts: BTreeMap::new(),
        }
    }

    /// The URLs to dial now, recording each as attempted: entries of `known` with a
    /// dialable WebSocket URL other than `own_url`, not `connected` (a predicate on the
    /// URL), and not tried within [`DIAL_RETRY_MS`]; never-tried ones first, then the
    /// longest untried, so every known relay gets its turn however many dead addresses come
    /// before it (ties keep `known`'s order). As many as bring `outbound` (plus dials still
    /// pending) up to the target. Work in the size of `known` times its logarithm.
    pub fn choose<'a>(
        &mut self,
        now: u64,
        known: impl Iterator<Item = &'a PeerAddr>,
        connected: impl Fn(&str) -> bool,
        outbound: usize,
        own_url: Option<&str>,
    ) -> Vec<String> {
        let mut urls = Vec::new();
        if self.target == 0 {
            return urls;
        }
        let pending = self
            .attempts
            .iter()
            .filter(|(url, t)| now.saturating_sub(**t) < DIAL_PENDING_MS && !connected(url))
            .count();
        let room = self.target.saturating_sub(outbound + pending);
        if room == 0 {
            return urls;
        }
        let known: Vec<&str> = known
            .filter_map(|a| a.url.as_deref())
            .filter(|u| dialable(u))
            .collect();
        // Forget attempts at URLs no longer known, so the record stays as small as the book.
        let mut still_known: BTreeMap<String, u64> = BTreeMap::new();
        for url in &known {
            if let Some((k, t)) = self.attempts.remove_entry(*url) {
                still_known.insert(k, t);
            }
        }
        self.attempts = still_known;
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let candidates: Vec<(Option<u64>, &str)> = known
            .iter()
            .filter_map(|url| {
                let last = self.attempts.get(*url).copied();
                let fresh = last.is_none_or(|t| now.saturating_sub(t) >= DIAL_RETRY_MS);
                let first = seen.insert(url, ()).is_none();
                (first && fresh && Some(*url) != own_url && !connected(url)).then_some((last, *url))
            })
            .collect();
        let candidates = ordering::sorted_by_key(candidates, |(last, _)| last.map_or(0, |t| t + 1));
        for (_, url) in candidates.into_iter().take(room) {
            self.attempts.insert(String::from(url), now);
            urls.push(String::from(url));
        }
        urls
    }
}

/// A `ws://` or `wss://` URL whose host can be dialled: not an unspecified address
/// (`0.0.0.0`, `[::]`), which a relay bound to every interface would otherwise announce.
fn dialable(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !(host.is_empty() || host.starts_with("0.0.0.0") || host.starts_with("[::]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Role;
    use alloc::format;

    fn relay(id: &str) -> PeerAddr {
        PeerAddr {
            node_id: id.into(),
            url: Some(format!("ws://10.0.0.{id}:3000/ws")),
            role: Role::Relay,
        }
    }

    #[test]
    fn dials_up_to_the_target_and_not_again_within_a_minute() {
        let known = [relay("1"), relay("2"), relay("3")];
        let mut d = Dialer::new(2);
        let first = d.choose(0, known.iter(), |_| false, 0, None);
        assert_eq!(first, ["ws://10.0.0.1:3000/ws", "ws://10.0.0.2:3000/ws"]);
        // Both dials are pending: no room until they connect or time out.
        assert!(d.choose(1_000, known.iter(), |_| false, 0, None).is_empty());
        // They failed (never connected): after the pending time the third is tried, not
        // the first two again.
        let later = d.choose(DIAL_PENDING_MS, known.iter(), |_| false, 0, None);
        assert_eq!(later, ["ws://10.0.0.3:3000/ws"]);
        let retry = d.choose(DIAL_RETRY_MS, known.iter(), |_| false, 0, None);
        assert_eq!(retry, ["ws://10.0.0.1:3000/ws", "ws://10.0.0.2:3000/ws"]);
    }

    #[test]
    fn skips_connected_nodes_itself_and_what_is_not_a_websocket_url() {
        let mut odd = relay("4");
        odd.url = Some("http://10.0.0.4/".into());
        let mut tab = relay("5");
        tab.url = None;
        let known = [relay("1"), relay("2"), odd, tab, relay("6")];
        let mut d = Dialer::new(8);
        let urls = d.choose(
            0,
            known.iter(),
            |url| url == "ws://10.0.0.1:3000/ws",
            1,
            Some("ws://10.0.0.2:3000/ws"),
        );
        assert_eq!(urls, ["ws://10.0.0.6:3000/ws"]);
    }

    #[test]
    fn dead_addresses_listed_first_do_not_starve_a_live_one() {
        let mut known: Vec<PeerAddr> = (0..16).map(|i| relay(&format!("0{i:02}"))).collect();
        known.push(relay("9999"));
        let mut d = Dialer::new(4);
        let mut dialled_at = None;
        for second in 0..600u64 {
            let urls = d.choose(second * 1000, known.iter(), |_| false, 0, None);
            if urls.iter().any(|u| u.contains("10.0.0.9999")) {
                dialled_at = Some(second);
                break;
            }
        }
        // 17 addresses, 4 dials per pending period of 15 s: its turn comes within a minute.
        assert!(dialled_at.is_some_and(|s| s <= 60), "{dialled_at:?}");
    }

    #[test]
    fn unspecified_hosts_are_not_dialled() {
        assert!(dialable("ws://127.0.0.1:3000/ws") && dialable("wss://relay.example/ws"));
        assert!(!dialable("ws://0.0.0.0:3000/ws") && !dialable("ws://[::]:3000/ws"));
        assert!(!dialable("ws:///ws") && !dialable("http://relay.example/"));
    }

    #[test]
    fn a_target_of_zero_never_dials() {
        let known = [relay("1")];
        assert!(Dialer::new(0)
            .choose(0, known.iter(), |_| false, 0, None)
            .is_empty());
    }

    #[test]
    fn outbound_connections_fill_the_target() {
        let known = [relay("1"), relay("2")];
        let mut d = Dialer::new(2);
        assert!(d.choose(0, known.iter(), |_| false, 2, None).is_empty());
        assert_eq!(d.choose(0, known.iter(), |_| false, 1, None).len(), 1);
    }
}
