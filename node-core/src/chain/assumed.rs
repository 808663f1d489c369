//! Assume-valid, bound to one block: the wait for it, the blocks held back meanwhile, giving
//! up when the wait stalls, and the later check of blocks connected without their signatures
//! checked (see the chain's module docs for the rule and why).

use alloc::vec::Vec;

use super::{Chain, TipStep};
use crate::consensus::params::ChainParams;
use crate::consensus::validation::{self, ValidationError};
use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedSet;

/// How long a node waits, with nothing downloading and no new work on the held branch, for
/// the assumed block before it connects what it holds with every signature checked.
pub const ASSUMED_BLOCK_PATIENCE_MS: u64 = 5_000;

/// The state of the wait for the assume-valid block (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Assumed {
    /// No assume-valid block, or it was given up: every signature is checked.
    Off,
    /// The assumed block is not indexed yet: blocks up to its height are held back.
    Waiting {
        /// Its height, as the relay that vouched for it said.
        height: u64,
        /// Its hash: the only thing that vouches.
        hash: BlockHash,
        /// When the best held block last gained work (`None` until the first check).
        progress_at: Option<u64>,
    },
    /// The assumed block is indexed: its ancestors by height, itself last.
    Known {
        /// `ancestors[h]` is the assumed block's ancestor at height `h`.
        ancestors: Vec<BlockHash>,
    },
}

/// What the chain knows of signatures it skipped or may skip.
#[derive(Debug, Clone)]
pub(super) struct AssumeValid {
    /// Where the wait for the assume-valid block stands.
    pub(super) assumed: Assumed,
    /// While waiting for the assumed block: the heaviest indexed block held back from the
    /// active chain.
    pub(super) held: Option<BlockHash>,
    /// Blocks connected without their signatures checked (ancestors of the assumed block,
    /// or restored from storage as such).
    pub(super) unchecked: KeyedSet<BlockHash>,
    /// Lowest active height that may hold an unchecked block no assumed block vouches for
    /// (a reload given another or no assume-valid block): checked a slice at a time.
    pub(super) recheck_from: Option<u64>,
}

impl AssumeValid {
    /// The wait for the configured assume-valid block, before any block is indexed.
    pub(super) fn new(params: &ChainParams) -> Self {
        let assumed = match params.assume_valid {
            Some((height, hash)) => Assumed::Waiting {
                height,
                hash,
                progress_at: None,
            },
            None => Assumed::Off,
        };
        AssumeValid {
            assumed,
            held: None,
            unchecked: KeyedSet::new(),
            recheck_from: None,
        }
    }

    /// Whether the block `hash` at `height` is an ancestor of (or is) the assumed block.
    pub(super) fn is_vouched(&self, hash: &BlockHash, height: u64) -> bool {
        match &self.assumed {
            Assumed::Known { ancestors } => {
                usize::try_from(height).ok().and_then(|h| ancestors.get(h)) == Some(hash)
            }
            _ => false,
        }
    }

    /// Whether the assumed block is still awaited.
    pub(super) fn waits(&self) -> bool {
        matches!(self.assumed, Assumed::Waiting { .. })
    }

    /// Blocks `gone` were found invalid: if the vouched-for block is among them, nothing is
    /// vouched for any more.
    pub(super) fn note_condemned(&mut self, gone: &KeyedSet<BlockHash>) {
        if let Assumed::Known { ancestors } = &self.assumed {
            if ancestors.last().is_some_and(|a| gone.contains(a)) {
                self.assumed = Assumed::Off;
            }
        }
    }
}

impl Chain {
    /// Whether a block at `height` may have its signatures skipped when it connects: only
    /// below the assume-valid block's height while it is awaited or known (and then only
    /// its exact ancestors are skipped). A shell that verifies signatures elsewhere asks
    /// this first, to skip work the chain will likely skip.
    pub fn checks_signatures_at(&self, height: u64) -> bool {
        match &self.assume_valid.assumed {
            Assumed::Off => true,
            Assumed::Waiting { height: h, .. } => height > *h,
            Assumed::Known { ancestors } => height >= ancestors.len() as u64,
        }
    }

    /// Whether the node still waits for its assume-valid block, holding blocks back.
    pub fn waits_for_assumed_block(&self) -> bool {
        self.assume_valid.waits()
    }

    /// Whether block `hash` was connected without its signatures checked (vouched for by
    /// the assumed block, or restored as such): its transactions need a signature check
    /// before they may enter a mempool.
    pub fn connected_unchecked(&self, hash: &BlockHash) -> bool {
        self.assume_valid.unchecked.contains(hash)
    }

    /// Lowest active height that may hold a block connected unchecked that no assumed block
    /// vouches for now, if any.
    pub fn recheck_from(&self) -> Option<u64> {
        self.assume_valid.recheck_from
    }

    /// Moves the wait on when a block is indexed: the assumed block itself makes its
    /// ancestry known; a block above its height without it means it is not coming.
    pub(super) fn note_assumed_indexed(&mut self, hash: BlockHash, height: u64) {
        if let Assumed::Waiting {
            height: awaited_height,
            hash: awaited,
            ..
        } = self.assume_valid.assumed
        {
            if hash == awaited {
                self.assume_valid.assumed = Assumed::Known {
                    ancestors: self.ancestry(hash),
                };
            } else if height > awaited_height {
                self.assume_valid.assumed = Assumed::Off;
            }
        }
    }

    /// After a load: where the wait stands given what was stored, and the blocks stored but
    /// not connected (held while waiting, or a crash before they were connected): the
    /// heaviest is held, or connected now if nothing holds it back.
    pub(super) fn resume_assumed_after_load(&mut self) {
        // Every block carries genesis's bits, so the heaviest is also the highest.
        let best = self.heaviest_indexed();
        if let Assumed::Waiting { hash, height, .. } = self.assume_valid.assumed {
            if let Some(e) = self.index.get(&hash) {
                self.note_assumed_indexed(hash, e.height);
            } else if self.index.get(&best).is_some_and(|e| e.height > height) {
                self.assume_valid.assumed = Assumed::Off;
            }
        }
        if best != self.tip() {
            if self.assume_valid.waits() {
                self.assume_valid.held = Some(best);
            } else {
                let mut steps = Vec::new();
                self.activate_best(Some(best), None, &mut steps);
            }
        }
    }

    /// Gives up waiting for the assumed block once nothing is downloading (`downloading`
    /// false) and the held branch has gained no work for [`ASSUMED_BLOCK_PATIENCE_MS`]:
    /// what is held then connects with every signature checked. Returns the tip's steps
    /// when it gave up. Nothing a peer claims (heights, say) enters this decision.
    pub fn give_up_on_assumed_block_if_stalled(
        &mut self,
        now_ms: u64,
        downloading: bool,
    ) -> Option<Vec<TipStep>> {
        let Assumed::Waiting { progress_at, .. } = &mut self.assume_valid.assumed else {
            return None;
        };
        let since = *progress_at.get_or_insert(now_ms);
        if downloading
            || self.assume_valid.held.is_none()
            || now_ms.saturating_sub(since) < ASSUMED_BLOCK_PATIENCE_MS
        {
            return None;
        }
        self.assume_valid.assumed = Assumed::Off;
        let mut steps = Vec::new();
        self.activate_best(None, None, &mut steps);
        self.trim_side_branches();
        Some(steps)
    }

    /// Makes `hash` the held block: its branch is the download's; the branch held before,
    /// if it was another, becomes a side branch.
    pub(super) fn hold(&mut self, hash: BlockHash) {
        let prev = self.index.get(&hash).map(|e| e.prev);
        if let Some(old) = self.assume_valid.held.filter(|old| Some(*old) != prev) {
            self.set_aside(old, hash);
        }
        self.assume_valid.held = Some(hash);
        self.unmark_side_ancestors(hash);
    }

    /// Puts the branch of `from` that does not lead to `to` on the side list (counted
    /// against the side-branch budgets, trimmed first when lightest).
    pub(super) fn set_aside(&mut self, from: BlockHash, to: BlockHash) {
        for h in self.branch_not_leading_to(from, to) {
            let size = self.bodies.block(&h).map_or(0, |b| b.encoded_size());
            self.side.insert(h, size);
        }
    }

    /// The blocks from `from` down to (not including) its common ancestor with `to`.
    fn branch_not_leading_to(&self, from: BlockHash, to: BlockHash) -> Vec<BlockHash> {
        let height = |h: &BlockHash| self.index.get(h).map(|e| e.height);
        let prev = |h: &BlockHash| self.index.get(h).map(|e| e.prev);
        let (mut a, mut b) = (from, to);
        let mut out = Vec::new();
        loop {
            let (Some(ha), Some(hb)) = (height(&a), height(&b)) else {
                return out;
            };
            if a == b {
                return out;
            }
            if ha >= hb {
                out.push(a);
                match prev(&a) {
                    Some(p) if ha > 0 => a = p,
                    _ => return out,
                }
            } else {
                match prev(&b) {
                    Some(p) => b = p,
                    None => return out,
                }
            }
        }
    }

    /// The blocks connected without a signature check and not checked since (what a store
    /// keeps through [`super::ChainChanges::unchecked`]).
    pub fn unchecked(&self) -> impl Iterator<Item = BlockHash> + '_ {
        self.assume_valid.unchecked.iter().copied()
    }

    /// Marks stored blocks as connected without a signature check (what a store recorded
    /// through [`super::ChainChanges::unchecked`]). Those on the active chain that the
    /// assumed block given now does not vouch for are checked again, a slice at a time, by
    /// [`Chain::check_skipped_signatures`].
    pub fn restore_unchecked(&mut self, unchecked: impl IntoIterator<Item = BlockHash>) {
        for h in unchecked {
            if self.index.contains_key(&h) {
                self.assume_valid.unchecked.insert(h);
            }
        }
        self.assume_valid.recheck_from = self
            .assume_valid
            .unchecked
            .iter()
            .filter(|h| self.is_active(h))
            .filter_map(|h| self.index.get(h).map(|e| (e.height, *h)))
            .filter(|(height, h)| !self.assume_valid.is_vouched(h, *height))
            .map(|(height, _)| height)
            .min();
    }

    /// Checks the signatures of active blocks connected unchecked that nothing vouches for
    /// now (restored from storage), at most `max_blocks` blocks from the lowest; returns
    /// whether none is left. A block with a bad signature is disconnected with everything
    /// above it and remembered as invalid; the error comes back with the steps the tip
    /// took, for the mempool.
    pub fn check_skipped_signatures(
        &mut self,
        max_blocks: u64,
    ) -> Result<bool, (BlockHash, ValidationError, Vec<TipStep>)> {
        let Some(from) = self.assume_valid.recheck_from else {
            return Ok(true);
        };
        if self.waits_for_assumed_block() {
            // The block that may vouch for them is still awaited.
            return Ok(false);
        }
        let top = self.height();
        let last = from.saturating_add(max_blocks.max(1) - 1).min(top);
        for height in from..=last {
            let Some(hash) = self.hash_at(height) else {
                break;
            };
            if !self.assume_valid.unchecked.contains(&hash)
                || self.assume_valid.is_vouched(&hash, height)
            {
                continue;
            }
            let Some(block) = self.bodies.block(&hash) else {
                break;
            };
            if let Err(e) = verify_block_signatures(&block) {
                let mut steps = Vec::new();
                while self.height() >= height && self.height() > 0 {
                    let tip = self.tip();
                    self.disconnect_tip();
                    if let Some(b) = self.bodies.block(&tip) {
                        steps.push(TipStep::Disconnected(super::bodies::owned(b)));
                    }
                }
                self.forget_branch(&[hash], true);
                self.assume_valid.recheck_from = None;
                self.activate_best(None, None, &mut steps);
                return Err((hash, e, steps));
            }
            self.assume_valid.unchecked.remove(&hash);
            self.changes.unchecked.push((hash, false));
        }
        self.assume_valid.recheck_from = if last >= top { None } else { Some(last + 1) };
        Ok(self.assume_valid.recheck_from.is_none())
    }
}

/// Whether a block has any signature to check (a block of only a coinbase has none).
pub(super) fn block_has_signatures(block: &Block) -> bool {
    block.transactions.len() > 1
}

/// Checks every input signature of a block whose other rules were checked when it was
/// connected (the public keys were matched to the spent outputs then).
fn verify_block_signatures(block: &Block) -> Result<(), ValidationError> {
    for tx in block.transactions.iter().skip(1) {
        validation::verify_signatures(tx)?;
    }
    Ok(())
}
