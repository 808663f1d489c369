//! The WebSocket peers a relay takes: at most `--max-peers` in all and a share per address,
//! and room made for a newcomer by a peer that has not finished its handshake.
//!
//! A socket that upgrades and never says `version` holds a peer slot until node-core's
//! handshake timeout (15 s) ends it; upgrades opened faster than that kept every slot taken
//! and honest tabs out. An honest peer finishes its handshake within a round trip, so when
//! the relay (or an address's share) is full, the oldest inbound peer still without a
//! handshake is closed to make room, as the oldest idle HTTP connection is in
//! `crate::http::conns`. Peers past their handshake, and the relay's own dials, are never
//! closed for room.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The key connections are counted and refused under: the address itself for IPv4 (and
/// IPv4 mapped into IPv6), its /64 network for IPv6, since one IPv6 host usually holds a
/// whole /64, and one key for all of loopback.
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        ip if ip.is_loopback() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Why an inbound connection was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotRefusal {
    /// `max_peers` connections are open, every inbound one past its handshake.
    #[error("the relay has all the peers it takes")]
    Full,
    /// The address has its share open already, every one past its handshake.
    #[error("this address has all the connections it may open")]
    AddressFull,
}

struct Entry {
    /// The address group of an inbound connection; `None` for our own dials.
    group: Option<IpAddr>,
    handshaken: Arc<AtomicBool>,
    evicted: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    /// By opening order: the first one found is the oldest.
    entries: BTreeMap<u64, Entry>,
    per_address: HashMap<IpAddr, usize>,
    next: u64,
}

impl Inner {
    fn forget(&mut self, id: u64) -> bool {
        let Some(entry) = self.entries.remove(&id) else {
            return false;
        };
        if let Some(group) = entry.group {
            if let Some(n) = self.per_address.get_mut(&group) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_address.remove(&group);
                }
            }
        }
        true
    }

    /// Closes the oldest inbound connection (of `group`, if given) still without a
    /// handshake; whether there was one.
    fn evict_unshaken(&mut self, group: Option<IpAddr>) -> bool {
        let victim = self
            .entries
            .iter()
            .find(|(_, e)| {
                e.group.is_some()
                    && !e.handshaken.load(Ordering::Acquire)
                    && group.is_none_or(|g| e.group == Some(g))
            })
            .map(|(id, e)| (*id, e.evicted.clone()));
        let Some((id, evicted)) = victim else {
            return false;
        };
        self.forget(id);
        evicted.notify_one();
        true
    }
}

/// The peer connections of a relay, counted.
pub struct PeerSlots {
    inner: Mutex<Inner>,
    max_peers: usize,
    max_per_address: usize,
    max_loopback: Option<usize>,
}

impl PeerSlots {
    /// Slots for `max_peers` connections, `max_per_address` from one address group and
    /// `max_loopback` (none: only the total) from loopback.
    pub fn new(max_peers: usize, max_per_address: usize, max_loopback: Option<usize>) -> Arc<Self> {
        Arc::new(PeerSlots {
            inner: Mutex::new(Inner::default()),
            max_peers,
            max_per_address,
            max_loopback,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn slot(self: &Arc<Self>, inner: &mut Inner, group: Option<IpAddr>) -> ConnectionSlot {
        let id = inner.next;
        inner.next += 1;
        let handshaken = Arc::new(AtomicBool::new(false));
        let evicted = Arc::new(Notify::new());
        inner.entries.insert(
            id,
            Entry {
                group,
                handshaken: handshaken.clone(),
                evicted: evicted.clone(),
            },
        );
        if let Some(g) = group {
            *inner.per_address.entry(g).or_insert(0) += 1;
        }
        ConnectionSlot {
            slots: self.clone(),
            id,
            handshaken,
            evicted,
        }
    }

    /// Counts an inbound connection from `ip`; when the relay or the address is full, the
    /// oldest connection without a handshake (of that address, if its share is the limit)
    /// makes room, and only if there is none is this one refused.
    pub fn reserve_inbound(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, SlotRefusal> {
        let group = address_group(ip);
        let share = if group.is_loopback() {
            self.max_loopback.unwrap_or(usize::MAX)
        } else {
            self.max_per_address
        };
        let mut inner = self.lock();
        if inner.per_address.get(&group).copied().unwrap_or(0) >= share
            && !inner.evict_unshaken(Some(group))
        {
            return Err(SlotRefusal::AddressFull);
        }
        if inner.entries.len() >= self.max_peers && !inner.evict_unshaken(None) {
            return Err(SlotRefusal::Full);
        }
        Ok(self.slot(&mut inner, Some(group)))
    }

    /// Counts an outbound connection (always allowed: the user asked for it).
    pub fn reserve_outbound(self: &Arc<Self>) -> ConnectionSlot {
        let mut inner = self.lock();
        self.slot(&mut inner, None)
    }

    /// Inbound connections open from `ip`'s address group.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let inner = self.lock();
        inner
            .per_address
            .get(&address_group(ip))
            .copied()
            .unwrap_or(0)
    }

    /// Connections open, both directions.
    pub fn open(&self) -> usize {
        self.lock().entries.len()
    }
}

/// One counted connection; the counts go down when it is dropped, however the connection
/// ends (an upgrade that fails drops it too), or when it is evicted.
pub struct ConnectionSlot {
    slots: Arc<PeerSlots>,
    id: u64,
    handshaken: Arc<AtomicBool>,
    evicted: Arc<Notify>,
}

impl ConnectionSlot {
    /// Raised once the peer has finished its handshake (the hub does, on `PeerUp`): from
    /// then on it is never closed to make room.
    pub fn handshaken(&self) -> Arc<AtomicBool> {
        self.handshaken.clone()
    }

    /// Resolves when the connection was closed to make room (it is no longer counted).
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.slots.lock().forget(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn shaken(slot: ConnectionSlot) -> ConnectionSlot {
        slot.handshaken.store(true, Ordering::Release);
        slot
    }

    #[test]
    fn one_address_gets_its_share_and_no_more() -> TestResult {
        let s = PeerSlots::new(10, 3, Some(4));
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let held = (0..3)
            .map(|_| s.reserve_inbound(a).map(shaken))
            .collect::<Result<Vec<_>, _>>()?;
        assert_eq!(s.reserve_inbound(a).err(), Some(SlotRefusal::AddressFull));
        // The same host over IPv4-mapped IPv6 is the same address.
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(
            s.reserve_inbound(mapped).err(),
            Some(SlotRefusal::AddressFull)
        );
        let other = s.reserve_inbound(b)?;
        assert_eq!(s.open_from(a), 3);
        drop(held);
        assert_eq!(s.open_from(a), 0);
        let again = s.reserve_inbound(a)?;
        // Loopback has its own share, and all of 127/8 and ::1 count as one.
        let lo = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ]
        .into_iter()
        .map(|ip| s.reserve_inbound(ip).map(shaken))
        .collect::<Result<Vec<_>, _>>()?;
        let lo5 = s.reserve_inbound(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(lo5.err(), Some(SlotRefusal::AddressFull));
        assert_eq!(s.open(), 6);
        drop((other, again, lo));
        assert_eq!(s.open(), 0);
        Ok(())
    }

    #[test]
    fn the_total_limit_holds_whatever_the_addresses() -> TestResult {
        let s = PeerSlots::new(2, 50, None);
        let ip = |n| IpAddr::V4(Ipv4Addr::new(198, 51, 100, n));
        let _a = s.reserve_inbound(ip(1)).map(shaken)?;
        let _out = s.reserve_outbound();
        assert_eq!(s.reserve_inbound(ip(2)).err(), Some(SlotRefusal::Full));
        assert_eq!(s.open_from(ip(2)), 0, "a refused connection is not counted");
        Ok(())
    }

    #[test]
    fn a_peer_without_a_handshake_makes_room_for_a_newcomer_one_with_a_handshake_never(
    ) -> TestResult {
        let s = PeerSlots::new(3, 50, None);
        let ip = |n| IpAddr::V4(Ipv4Addr::new(198, 51, 100, n));
        let honest = s.reserve_inbound(ip(1)).map(shaken)?;
        let silent = s.reserve_inbound(ip(2))?;
        let out = s.reserve_outbound();
        let newcomer = s.reserve_inbound(ip(3))?;
        assert_eq!(s.open(), 3);
        tokio::runtime::Builder::new_current_thread()
            .build()?
            .block_on(silent.evicted());
        drop(silent);
        assert_eq!(s.open(), 3, "the evicted slot is not counted twice");
        let newcomer = shaken(newcomer);
        assert_eq!(s.reserve_inbound(ip(4)).err(), Some(SlotRefusal::Full));
        drop((honest, out, newcomer));
        assert_eq!(s.open(), 0);
        Ok(())
    }

    #[test]
    fn ipv6_peers_are_counted_per_64() -> TestResult {
        let s = PeerSlots::new(10, 1, None);
        let host = |last| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        let _one = s.reserve_inbound(host(1)).map(shaken)?;
        assert_eq!(
            s.reserve_inbound(host(2)).err(),
            Some(SlotRefusal::AddressFull)
        );
        let elsewhere = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(s.reserve_inbound(elsewhere).is_ok());
        Ok(())
    }
}
