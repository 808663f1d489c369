//! Which learned relays to dial: peer discovery beyond the peers a node was started with.
//!
//! Relays announce where they listen in `version`, and nodes pass the addresses on with
//! `addr`. A node configured to keep `target` outbound connections dials relays it learned of
//! this way until it has that many: so relays peered only through a hub find each other, and
//! keep exchanging blocks when the hub goes down.
//!
//! Addresses come from peers and are not trusted: only `ws://` and `wss://` URLs are dialled,
//! each node at most once per [`DIAL_RETRY_MS`], and a dial counts against the target until
//! it connects or [`DIAL_PENDING_MS`] pass, so a flood of made-up addresses costs a few
//! failed dials a minute, never a burst.

use alloc::string::String;
use alloc::vec::Vec;

use crate::protocol::PeerAddr;

/// A node is dialled again at most this often (ms).
pub const DIAL_RETRY_MS: u64 = 60_000;
/// A dial not yet seen connected counts as an outbound connection for this long (ms).
pub const DIAL_PENDING_MS: u64 = 15_000;

/// Recent dial attempts and the outbound target.
#[derive(Debug, Clone, Default)]
pub struct Dialer {
    target: usize,
    /// Node id and time of the last attempt, newest last; only attempts within
    /// [`DIAL_RETRY_MS`] are kept, and at most one per known address.
    attempts: Vec<(String, u64)>,
}

impl Dialer {
    /// Keeps `target` outbound connections (0: never dials).
    pub fn new(target: usize) -> Self {
        Dialer {
            target,
            attempts: Vec::new(),
        }
    }

    /// The URLs to dial now, recording each as attempted: relays in `known` (in order) that
    /// have a WebSocket URL other than `own_url`, are not `connected`, and were not tried
    /// within [`DIAL_RETRY_MS`]; as many as bring `outbound` (plus dials still pending) up to
    /// the target.
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
        self.attempts
            .retain(|(_, t)| now.saturating_sub(*t) < DIAL_RETRY_MS);
        let pending = self
            .attempts
            .iter()
            .filter(|(id, t)| now.saturating_sub(*t) < DIAL_PENDING_MS && !connected(id))
            .count();
        let mut room = self.target.saturating_sub(outbound + pending);
        for addr in known {
            if room == 0 {
                break;
            }
            let Some(url) = addr.url.as_deref() else {
                continue;
            };
            let dialable = url.starts_with("ws://") || url.starts_with("wss://");
            if !dialable
                || Some(url) == own_url
                || connected(&addr.node_id)
                || self.attempts.iter().any(|(id, _)| *id == addr.node_id)
            {
                continue;
            }
            self.attempts.push((addr.node_id.clone(), now));
            urls.push(String::from(url));
            room -= 1;
        }
        urls
    }
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
            |id| id == "1",
            1,
            Some("ws://10.0.0.2:3000/ws"),
        );
        assert_eq!(urls, ["ws://10.0.0.6:3000/ws"]);
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
