//! Addresses refused for a while after a peer from them misbehaved.
//!
//! The hub refuses an address when the node scores a peer out; the `/ws` route asks before
//! upgrading. Addresses are kept by [`address_group`] (an IPv6 host holds a whole /64), and
//! loopback is never refused: every tab of a local browser shares it, so one bad tab must
//! not lock out the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::slots::address_group;

/// Address groups refused until an instant.
pub struct Bans {
    until: Mutex<HashMap<IpAddr, Instant>>,
    duration: Duration,
}

impl Bans {
    /// A table refusing each address for `duration`.
    pub fn new(duration: Duration) -> Self {
        Bans {
            until: Mutex::new(HashMap::new()),
            duration,
        }
    }

    /// How long an address is refused.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Refuses `ip`'s address group for the ban duration; never loopback. Returns whether
    /// it was refused.
    pub fn refuse(&self, ip: IpAddr) -> bool {
        let group = address_group(ip);
        if group.is_loopback() {
            return false;
        }
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until.insert(group, Instant::now() + self.duration);
        true
    }

    /// Whether `ip` is refused now (never loopback).
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        let group = address_group(ip);
        if group.is_loopback() {
            return false;
        }
        let Ok(mut until) = self.until.lock() else {
            return false;
        };
        let now = Instant::now();
        until.retain(|_, end| *end > now);
        until.contains_key(&group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn misbehaving_ipv6_peers_are_refused_per_64_and_loopback_never() {
        let s = Bans::new(Duration::from_secs(600));
        let host = |last| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        let elsewhere = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(s.refuse(host(7)));
        assert!(s.is_refused(host(8)), "the whole /64 is refused");
        assert!(!s.is_refused(elsewhere));
        assert!(!s.refuse(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(!s.is_refused(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
