//! Getting a chain when there is none: which genesis to accept, the probe that finds it
//! when no `version` named one, and the blocks that arrive before it.
//!
//! Only a peer its operator named ([`super::Event::Dialled`] with `named`) fixes the genesis
//! of a node without a chain; what any other peer says binds to its own connection. A block
//! that overtakes the genesis (an announcement racing the sync) waits here, bounded, and
//! is checked against the chain once the genesis is in.

use alloc::format;
use alloc::vec::Vec;

use crate::chain::Chain;
use crate::consensus::pow;
use crate::consensus::validation::ValidationError;
use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;

use super::peers::PeerId;
use super::{score, Action, Node, Notification};

/// Blocks held before there is a chain to put them on (announcements that overtook the
/// genesis), at most this many bytes and [`BEFORE_GENESIS_MAX_BLOCKS`] blocks: they are
/// fetched again after the genesis anyway.
pub const BEFORE_GENESIS_MAX_BYTES: usize = 4 * crate::consensus::params::MAX_BLOCK_SIZE;
/// See [`BEFORE_GENESIS_MAX_BYTES`].
pub const BEFORE_GENESIS_MAX_BLOCKS: usize = 256;

/// What a node without a chain knows about the chain it is to get.
#[derive(Default)]
pub(super) struct GenesisWait {
    /// The genesis we will accept while we have no chain.
    pub(super) expected: Option<BlockHash>,
    /// The peer asked for its chain from genesis because no `version` named one, and when.
    pub(super) probe: Option<(PeerId, u64)>,
    /// Blocks that arrived before the genesis they build on, with their sender.
    held: Vec<(Block, PeerId)>,
    held_bytes: usize,
}

impl GenesisWait {
    /// Holds `block` from `from` if it fits the bounds; false if it does not.
    fn hold(&mut self, block: Block, from: PeerId) -> bool {
        let size = block.encoded_size();
        if self.held.len() >= BEFORE_GENESIS_MAX_BLOCKS
            || self.held_bytes.saturating_add(size) > BEFORE_GENESIS_MAX_BYTES
        {
            return false;
        }
        self.held_bytes += size;
        self.held.push((block, from));
        true
    }

    /// Every held block, oldest first; none remain.
    fn take_held(&mut self) -> Vec<(Block, PeerId)> {
        self.held_bytes = 0;
        core::mem::take(&mut self.held)
    }

    /// Bytes of blocks held.
    pub(super) fn held_bytes(&self) -> usize {
        self.held_bytes
    }
}

impl Node {
    /// Blocks `blocks` announced by `id` while we have no chain and know of no genesis to
    /// fetch (the named peer had none yet when we shook hands): ask it for its chain from
    /// the start; the first hash of its answer is its genesis, trusted as its `version`
    /// would be. Returns whether the announcement is to be handled further.
    pub(super) fn probe_for_genesis(&mut self, id: PeerId, blocks: &[BlockHash]) -> bool {
        if self.chain.is_some() || self.genesis.expected.is_some() || blocks.is_empty() {
            return true;
        }
        match self.genesis.probe {
            Some((p, _)) if p == id => {
                self.genesis.expected = blocks.first().copied();
                if let Some(g) = self.genesis.expected {
                    self.drop_peers_on_other_genesis(id, g);
                }
                true
            }
            Some(_) => false,
            None => {
                self.genesis.probe = Some((id, self.now));
                self.send_getblocks(id, None);
                false
            }
        }
    }

    /// A probe unanswered past the stall timeout is forgotten, so another may start.
    pub(super) fn expire_genesis_probe(&mut self) {
        let timeout = self.config.stall_timeout_ms;
        if self
            .genesis
            .probe
            .is_some_and(|(_, t)| self.now.saturating_sub(t) > timeout)
        {
            self.genesis.probe = None;
        }
    }

    /// The genesis is now fixed at `genesis`: peers that said they are on another one
    /// (before it was) are on another network.
    pub(super) fn drop_peers_on_other_genesis(&mut self, except: PeerId, genesis: BlockHash) {
        let others: Vec<(PeerId, BlockHash)> = self
            .peers
            .values()
            .filter(|p| p.id != except)
            .filter_map(|p| p.handshake.version.as_ref().map(|v| (p.id, v.genesis)))
            .filter(|(_, g)| *g != BlockHash::ZERO && *g != genesis)
            .collect();
        for (peer, theirs) in others {
            let reason = format!("different genesis: peer has {theirs}, we have {genesis}");
            self.disconnect(peer, reason, false);
        }
    }

    /// With no chain yet, the first block must be the genesis a named peer announced.
    pub(super) fn adopt_genesis(&mut self, id: PeerId, block: Block) {
        let hash = block.hash();
        if Some(hash) != self.genesis.expected {
            self.hold_before_genesis(id, block, hash);
            return;
        }
        if block.header.prev != BlockHash::ZERO && self.genesis.probe.is_some() {
            // The probe's answer raced an announcement: that was not the genesis. Ask again.
            self.genesis.expected = None;
            self.genesis.probe = None;
            return;
        }
        match Chain::new(self.config.params.clone(), block, self.now) {
            #[allow(unused_mut)] // mutated only with the `stored-bodies` feature
            Ok(mut chain) => {
                #[cfg(feature = "stored-bodies")]
                if let Some(source) = &self.body_source {
                    chain.keep_bodies_in(source.clone());
                }
                #[cfg(feature = "body-source")]
                if let Some(source) = &self.coin_source {
                    chain.keep_coins_in(source.clone());
                }
                let changes = chain.take_changes();
                let bits = chain.bits();
                self.chain = Some(chain);
                self.out.push(Action::Persist(changes));
                self.out.notify(Notification::TipChanged {
                    tip: hash,
                    height: 0,
                    reorg_depth: 0,
                });
                for (b, from) in self.genesis.take_held() {
                    let h = b.hash();
                    if b.header.bits != bits {
                        let reason = format!(
                            "block {h} has proof-of-work bits {}, the chain {bits}",
                            b.header.bits
                        );
                        self.penalise(from, score::INVALID_BLOCK, reason);
                        continue;
                    }
                    if let Err(e) = self.accept_block(b, Some(from)) {
                        let points = match e {
                            ValidationError::TimestampInFuture { .. } => score::FUTURE_BLOCK,
                            _ => score::INVALID_BLOCK,
                        };
                        self.penalise(from, points, format!("invalid block {h}: {e}"));
                    }
                }
            }
            Err(e) => {
                let reason = format!("invalid genesis {hash}: {e}");
                self.genesis.expected = None;
                self.disconnect(id, reason, true);
            }
        }
    }

    /// A block that arrived before the genesis (an announcement that overtook the sync):
    /// kept until there is a chain to put it on only if a named peer sent it, it meets its
    /// own proof of work, and it fits in [`BEFORE_GENESIS_MAX_BYTES`]; the genesis then
    /// decides the bits it must have. What does not fit is dropped (fetched again after the
    /// genesis); any other peer never was asked for a block, and is charged for sending one.
    fn hold_before_genesis(&mut self, id: PeerId, block: Block, hash: BlockHash) {
        if !self.may_supply_chain(id) {
            self.penalise(
                id,
                score::BLOCK_BEFORE_GENESIS,
                format!("block {hash} before we have a chain, from a peer that cannot give one"),
            );
            return;
        }
        if self.genesis.expected.is_none() {
            return;
        }
        if block.header.bits > crate::consensus::params::MAX_BITS
            || !pow::meets_target(&hash, block.header.bits)
        {
            self.penalise(
                id,
                score::INVALID_BLOCK,
                format!("block {hash} does not meet its own proof of work"),
            );
            return;
        }
        self.genesis.hold(block, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::block::BlockHeader;
    use crate::primitives::hash::Hash256;
    use crate::primitives::tx::Transaction;

    /// A block whose coinbase carries `data`, so its size is what the test needs.
    fn block(n: u64, data: &[u8]) -> Block {
        Block {
            header: BlockHeader {
                version: 1,
                prev: BlockHash::from_hash(Hash256([1; 32])),
                merkle_root: Hash256::default(),
                timestamp: n,
                bits: 0,
                nonce: n,
            },
            transactions: alloc::vec![Transaction::new_coinbase(n, Default::default(), 0, data)],
        }
    }

    #[test]
    fn held_blocks_stop_at_the_block_count() {
        let mut wait = GenesisWait::default();
        for n in 0..BEFORE_GENESIS_MAX_BLOCKS as u64 {
            assert!(wait.hold(block(n, b""), 1));
        }
        assert!(!wait.hold(block(9_999, b""), 1));
        let held = wait.take_held();
        assert_eq!(held.len(), BEFORE_GENESIS_MAX_BLOCKS);
        assert_eq!(wait.held_bytes(), 0);
    }

    #[test]
    fn held_blocks_stop_at_the_byte_bound() {
        // Blocks of about half the largest block: the bytes run out long before the count.
        let mut big = block(0, b"");
        let outputs = crate::consensus::params::MAX_BLOCK_SIZE / 2 / 30;
        big.transactions[0].outputs = alloc::vec![crate::primitives::tx::TxOut {
            value: 1,
            pubkey_hash: Default::default(),
        }; outputs];
        let size = big.encoded_size();
        let mut wait = GenesisWait::default();
        while wait.hold(big.clone(), 2) {}
        assert!(wait.held_bytes() <= BEFORE_GENESIS_MAX_BYTES);
        assert!(wait.held_bytes() + size > BEFORE_GENESIS_MAX_BYTES);
        assert!(wait.take_held().len() < BEFORE_GENESIS_MAX_BLOCKS);
    }
}
