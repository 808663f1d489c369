//! Signatures a shell verified before the chain connects a block (natively, off the thread
//! that validates), so connecting it skips them.
//!
//! A hint speaks only for the body it was computed on: it is noted for the next block given
//! to [`super::Chain::accept_block`], and kept only if that block's body passes
//! [`crate::consensus::validation::check_block`] (a decoy body under the same header,
//! verified and then refused, must not vouch for the real one). Kept hints are used once,
//! when the block connects, which may be later (a held or side-branch block).

use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedSet;

/// Most blocks remembered as verified ahead of connection; more than a download keeps in
/// flight.
const MAX_PRESIGNED: usize = 4096;

/// Blocks whose signatures the shell already verified: their signature checks are skipped
/// once. A hint only, bounded.
#[derive(Debug, Clone, Default)]
pub(super) struct PresignedHints {
    /// Blocks whose body passed `check_block` after the hint was noted.
    verified: KeyedSet<BlockHash>,
    /// The hint for the next block given to `accept_block`.
    next: Option<BlockHash>,
}

impl PresignedHints {
    /// Notes that the next block to be accepted (hash `hash`) had its signatures verified.
    pub(super) fn note_next(&mut self, hash: BlockHash) {
        self.next = Some(hash);
    }

    /// Takes the hint for the next block: whether it was noted for `hash`.
    pub(super) fn take_next(&mut self, hash: &BlockHash) -> bool {
        self.next.take() == Some(*hash)
    }

    /// Keeps the hint for `hash`, whose body passed `check_block`.
    pub(super) fn keep(&mut self, hash: BlockHash) {
        if self.verified.len() >= MAX_PRESIGNED {
            self.verified.clear();
        }
        self.verified.insert(hash);
    }

    /// Uses the hint for `hash` as it connects: whether its signatures were verified.
    pub(super) fn take(&mut self, hash: &BlockHash) -> bool {
        self.verified.remove(hash)
    }
}

impl super::Chain {
    /// Records that every signature of the block about to be given to
    /// [`super::Chain::accept_block`] (hash `hash`) was verified by the caller (with
    /// [`crate::primitives::keys::verify`]'s rules: uncompressed key, low-S, ECDSA P-256 over
    /// SHA-256 of the signature message), so connecting it skips them. The note applies to
    /// that next call only, and only if its body passes
    /// [`crate::consensus::validation::check_block`]: what was verified is a list of
    /// transactions, and only the committed list may profit. Everything else is still
    /// checked, including that each key matches the output it spends.
    pub fn note_signatures_verified(&mut self, hash: BlockHash) {
        self.presigned.note_next(hash);
    }
}
