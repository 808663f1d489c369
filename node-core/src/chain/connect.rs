//! Moving the active tip: connecting a block (checking every input as it goes), a long
//! extension a step at a time, disconnecting one with its undo data, and reorganising to a
//! heavier branch, restoring the old chain when a branch block turns out invalid.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::assumed::block_has_signatures;
use super::bodies::owned;
use super::{Chain, TipStep};
use crate::consensus::validation::{self, ValidationError};
use crate::primitives::block::Block;
use crate::primitives::hash::{BlockHash, Txid};
use crate::util::keyed_map::KeyedMap;
use crate::utxo::UtxoSet;

/// The txids [`validation::check_block`] computed for the block being accepted, lent to its
/// connection if it connects at once (any other block's are computed when it connects), so
/// the block's transactions are hashed once.
#[derive(Debug, Clone, Copy)]
pub(super) struct JustChecked<'a> {
    /// The block checked.
    pub(super) hash: BlockHash,
    /// Its transactions' ids, in block order.
    pub(super) txids: &'a [Txid],
}

/// Most blocks one step connects when a branch only extends the active chain; the rest is
/// left to [`Chain::connect_next_step`], which a node calls until none is left, handing
/// each step's writes and tip changes over before the next. A tab that waited for its
/// assume-valid block holds its whole download (100,000 blocks at once): connected in one
/// step, the step's block list, undo data and UTXO writes for every block were in memory
/// together (a 1 GB peak in a tab at 100,000 blocks) and written as one 126 MB record. A
/// reorganisation that disconnects blocks stays one step: the chain never rests on a
/// branch lighter than the one it left.
pub const CONNECT_STEP_BLOCKS: usize = 1_000;

impl Chain {
    /// Connects the next step towards the block an earlier step stopped short of (see
    /// [`CONNECT_STEP_BLOCKS`]); returns the tip's steps, `None` when nothing
    /// is left to connect. A block found invalid on the way is forgotten with what was
    /// built on it, and the tip stays the heaviest valid block (as when a wait for the
    /// assumed block is given up).
    pub fn connect_next_step(&mut self) -> Option<Vec<TipStep>> {
        let target = self.connect_pending.take()?;
        let mut steps = Vec::new();
        if self.index.contains_key(&target) {
            self.activate_best(Some(target), None, &mut steps);
        }
        Some(steps)
    }

    /// Connects the heaviest of `candidate`, the held block and the tip; when a branch
    /// fails, the next heaviest. Returns the first failure (the block and why).
    pub(super) fn activate_best(
        &mut self,
        candidate: Option<BlockHash>,
        just_checked: Option<JustChecked<'_>>,
        steps: &mut Vec<TipStep>,
    ) -> Option<(BlockHash, ValidationError)> {
        let mut target = self.best_block();
        if let Some(c) = candidate.filter(|c| self.index.contains_key(c)) {
            if self.is_heavier(&c, &target) {
                target = c;
            }
        }
        self.assume_valid.held = None;
        let mut first_failure = None;
        while self.is_heavier(&target, &self.tip()) {
            match self.activate(target, just_checked, steps) {
                Ok(()) => break,
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                    target = self.heaviest_indexed();
                }
            }
        }
        // A heavier branch overtook the extension a step stopped short of: what is left of
        // it is a side branch like any other.
        if let Some(pending) = self
            .connect_pending
            .filter(|p| !self.is_heavier(p, &self.tip()))
        {
            self.connect_pending = None;
            self.set_aside(pending, self.tip());
        }
        first_failure
    }

    /// Makes `new_tip` (heavier than the active tip) active: disconnect to the fork point,
    /// connect the branch; on an invalid branch block, restore the old chain, forget the bad
    /// block and what was built on it, and say which block failed.
    fn activate(
        &mut self,
        new_tip: BlockHash,
        just_checked: Option<JustChecked<'_>>,
        steps: &mut Vec<TipStep>,
    ) -> Result<(), (BlockHash, ValidationError)> {
        let mut branch = Vec::new();
        let mut cursor = new_tip;
        while !self.is_active(&cursor) {
            branch.push(cursor);
            cursor = self.index.entry(&cursor).prev;
        }
        branch.reverse();
        let fork_height = self.index.entry(&cursor).height;
        let old = self.active.hashes_above(&self.index, fork_height as usize);
        if old.is_empty() && branch.len() > CONNECT_STEP_BLOCKS {
            // Only an extension is cut into steps; the rest is connected by the next ones.
            branch.truncate(CONNECT_STEP_BLOCKS);
            self.connect_pending = Some(new_tip);
        }
        let mark = self.changes.utxo.len();
        let unchecked_mark = self.changes.unchecked.len();
        let tip_mark = self.changes.tip;
        let mut local = Vec::new();
        for h in old.iter().rev() {
            self.disconnect_tip();
            if let Some(b) = self.bodies.block(h) {
                local.push(TipStep::Disconnected(owned(b)));
            }
        }
        for (i, h) in branch.iter().enumerate() {
            let txids = just_checked.filter(|c| c.hash == *h).map(|c| c.txids);
            let connected = match self.connect(*h, txids) {
                Ok(block) => block,
                Err(e) => {
                    for _ in 0..i {
                        self.disconnect_tip();
                    }
                    for h in &branch[..i] {
                        // Never connected after all.
                        self.assume_valid.unchecked.remove(h);
                    }
                    // Put back as far as the bodies allow: a block whose body the store
                    // lost cannot be, and none above it can stand on it.
                    let restored = old.iter().all(|h| self.connect_unchecked(*h));
                    if restored {
                        // The restore undid every UTXO write of the attempt.
                        self.changes.utxo.truncate(mark);
                        self.changes.unchecked.truncate(unchecked_mark);
                        self.changes.tip = tip_mark;
                    }
                    let failed = branch[i];
                    self.forget_branch(&branch[i..], validation::condemns_header(&e));
                    return Err((failed, e));
                }
            };
            local.push(TipStep::Connected(connected));
        }
        for h in &old {
            let size = self.bodies.block(h).map_or(0, |b| b.encoded_size());
            self.side.insert(*h, size);
        }
        for h in &branch {
            self.side.remove(h);
        }
        steps.extend(local);
        Ok(())
    }

    /// Checks every input of the block at the tip's next height, then connects it. `txids`
    /// are its transactions' ids when the check that admitted it just computed them.
    /// Returns the block, which a chain over a body source may have read from it: read once.
    fn connect(
        &mut self,
        hash: BlockHash,
        txids: Option<&[Txid]>,
    ) -> Result<Block, ValidationError> {
        let height = self.index.entry(&hash).height;
        let skip_signatures = self.assume_valid.is_vouched(&hash, height);
        let presigned = self.presigned.take(&hash);
        // A body the store lost cannot connect; the block is forgotten (not condemned) and
        // may be fetched again.
        let block = owned(
            self.bodies
                .block(&hash)
                .ok_or(ValidationError::NoTransactions)?,
        );
        let txids = txids_of(&block, txids);
        validation::check_block_spends(
            &block,
            &txids,
            &self.utxo,
            !skip_signatures && !presigned,
            self.params.subsidy,
        )?;
        let unchecked = skip_signatures && !presigned && block_has_signatures(&block);
        self.apply_block(hash, &block, &txids);
        if unchecked {
            self.assume_valid.unchecked.insert(hash);
            self.changes.unchecked.push((hash, true));
        }
        Ok(block)
    }

    /// Connects a block known to be valid on the active tip.
    /// Returns whether it connected (its body could be read).
    pub(super) fn connect_unchecked(&mut self, hash: BlockHash) -> bool {
        self.connect_known(hash, None)
    }

    /// Connects a block known to be valid (it was connected before, or is genesis), recording
    /// it as the new tip with its undo data.
    fn connect_known(&mut self, hash: BlockHash, txids: Option<&[Txid]>) -> bool {
        let Some(block) = self.bodies.block(&hash).map(owned) else {
            // A body the store lost: the chain stops below it (the next block to arrive
            // on it is an orphan until this one is fetched again).
            return false;
        };
        let txids = txids_of(&block, txids);
        self.apply_block(hash, &block, &txids);
        true
    }

    /// Applies `block` (of `hash`, whose transactions' ids are `txids`) to the UTXO set as
    /// the new tip, recording its undo data.
    pub(super) fn apply_block(&mut self, hash: BlockHash, block: &Block, txids: &[Txid]) {
        let height = self.index.entry(&hash).height;
        let undo = self.utxo.apply_with_txids(block, height, txids);
        self.changes.utxo.extend(self.utxo.changes_for_apply(&undo));
        self.changes.undo.push((hash, undo.clone()));
        self.bodies.insert_undo(hash, undo);
        // Indexed: its entry was just read.
        self.active.push(&self.index, &hash);
        self.changes.tip = Some(hash);
    }

    /// Disconnects the active tip (never genesis) with its undo data.
    pub(super) fn disconnect_tip(&mut self) {
        if self.active.len() <= 1 {
            return;
        }
        let Some(hash) = self.active.pop(&self.index) else {
            return;
        };
        if let Some(undo) = self.bodies.undo(&hash) {
            self.utxo.undo(&undo);
            self.changes.utxo.extend(UtxoSet::changes_for_undo(&undo));
        }
        self.changes.tip = Some(self.tip());
        if self
            .assume_valid
            .recheck_from
            .is_some_and(|u| u > self.height())
        {
            self.assume_valid.recheck_from = None;
        }
    }

    /// Rebuilds the UTXO set and undo data by replaying the active chain from genesis (the
    /// seed's `reindexutxo`); the changes replace the stored set.
    pub fn reindex_utxo(&mut self) {
        let mut utxo = UtxoSet::new();
        let mut undo = KeyedMap::new();
        for (height, h) in self.active.hashes_from(&self.index, 0).enumerate() {
            // A body the store lost leaves its outputs out; `reindexutxo` reads bodies
            // itself and drops such blocks first.
            if let Some(b) = self.bodies.block(h) {
                undo.insert(*h, utxo.apply(&b, height as u64));
            }
        }
        self.utxo = utxo;
        self.changes.utxo_reset = true;
        self.changes.utxo = self
            .utxo
            .entries()
            .into_iter()
            .map(|(op, e)| (op, Some(e)))
            .collect();
        self.changes.undo = undo.iter().map(|(h, u)| (*h, u.clone())).collect();
        if self.bodies.is_backed() {
            // The rewritten records are stored by the changes; memory keeps none of them.
            self.bodies.replace_undo(KeyedMap::new());
        } else {
            self.bodies.replace_undo(undo);
        }
    }
}

/// A block's txids: those the caller just computed, or computed now.
fn txids_of<'a>(
    block: &crate::primitives::block::Block,
    given: Option<&'a [Txid]>,
) -> Cow<'a, [Txid]> {
    match given {
        Some(txids) => Cow::Borrowed(txids),
        None => Cow::Owned(block.txids()),
    }
}
