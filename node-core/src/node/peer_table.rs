//! The node's peers by id: a B-tree where thousands come and go (the relay, built with
//! `dial`), a list ordered by id in a browser tab, which has its relay and perhaps a few
//! more: a B-tree instance of its own cost the page module ~3 KB gzipped.

use alloc::vec::Vec;

use super::peers::{Peer, PeerId};

/// The peers of a relay (or a simulated node): a B-tree.
#[cfg(feature = "dial")]
pub type PeerTable = alloc::collections::BTreeMap<PeerId, Peer>;
/// The peers of a browser tab: a list ordered by id.
#[cfg(not(feature = "dial"))]
pub type PeerTable = SortedPeers;

/// Peers in a list ordered by id (ids only grow, so a new peer goes at the end); what a
/// `BTreeMap` would answer, for the few peers of a tab.
#[derive(Default)]
pub struct SortedPeers(Vec<(PeerId, Peer)>);

impl SortedPeers {
    /// No peers.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, id: &PeerId) -> Result<usize, usize> {
        self.0.binary_search_by_key(id, |(k, _)| *k)
    }

    /// The peer `id`.
    pub fn get(&self, id: &PeerId) -> Option<&Peer> {
        self.position(id).ok().map(|at| &self.0[at].1)
    }

    /// The peer `id`, to change.
    pub fn get_mut(&mut self, id: &PeerId) -> Option<&mut Peer> {
        self.position(id).ok().map(|at| &mut self.0[at].1)
    }

    /// Whether peer `id` is here.
    pub fn contains_key(&self, id: &PeerId) -> bool {
        self.position(id).is_ok()
    }

    /// Adds (or replaces) peer `id`; returns the one replaced.
    pub fn insert(&mut self, id: PeerId, peer: Peer) -> Option<Peer> {
        match self.position(&id) {
            Ok(at) => Some(core::mem::replace(&mut self.0[at].1, peer)),
            Err(at) => {
                self.0.insert(at, (id, peer));
                None
            }
        }
    }

    /// Removes peer `id`.
    pub fn remove(&mut self, id: &PeerId) -> Option<Peer> {
        self.position(id).ok().map(|at| self.0.remove(at).1)
    }

    /// Whether there is no peer.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of peers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The peers, by id.
    pub fn values(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.0.iter().map(|(_, p)| p)
    }

    /// The peers, by id, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Peer> + '_ {
        self.0.iter_mut().map(|(_, p)| p)
    }

    /// Ids and peers, by id, the peers to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&PeerId, &mut Peer)> + '_ {
        self.0.iter_mut().map(|(k, p)| (&*k, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: PeerId) -> Peer {
        Peer::new(id, false, 0)
    }

    #[test]
    fn a_sorted_list_answers_as_a_btree_map_does() {
        let mut list = SortedPeers::new();
        let mut map = alloc::collections::BTreeMap::new();
        for (i, id) in [5u64, 1, 9, 3, 7, 5, 2].into_iter().enumerate() {
            assert_eq!(
                list.insert(id, peer(id)).is_some(),
                map.insert(id, peer(id)).is_some(),
                "insert #{i}"
            );
        }
        for id in [3u64, 4, 9] {
            assert_eq!(list.remove(&id).is_some(), map.remove(&id).is_some());
        }
        assert_eq!(list.len(), map.len());
        let ids = |l: &mut SortedPeers| l.iter_mut().map(|(k, _)| *k).collect::<Vec<_>>();
        assert_eq!(ids(&mut list), map.keys().copied().collect::<Vec<_>>());
        for id in 0..10 {
            assert_eq!(list.contains_key(&id), map.contains_key(&id), "id {id}");
            assert_eq!(list.get(&id).map(|p| p.id), map.get(&id).map(|p| p.id));
        }
    }
}
