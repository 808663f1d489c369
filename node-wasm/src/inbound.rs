//! Frames from the relay waiting for the signature workers, bounded in bytes.
//!
//! # Why
//! The driver hands frames to the node in arrival order, each once the workers
//! ([`crate::verifier`]) have answered for its signatures; a frame behind one being checked
//! waits too. Until a frame reaches the node nothing judges it (unrequested, duplicate,
//! invalid), so a relay sending blocks and transactions faster than the workers check them
//! would grow this queue without end. [`InboundQueue`] counts the bytes it holds; above
//! [`MAX_WAITING_BYTES`] it stops waiting for the workers, so the driver hands everything to
//! the node, which checks the signatures itself and scores whoever sent what it refuses.

use std::collections::VecDeque;

use node_core::node::peers::PeerId;
use node_core::{BlockHash, Txid};

/// Most bytes of frames kept waiting for the workers: dozens of full blocks, hundreds of a
/// download's usual ones (the node asks for at most 128 at a time).
pub const MAX_WAITING_BYTES: usize = 32 << 20;

/// What the workers vouched for (or are checking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vouched {
    /// Every signature of this block holds.
    Block(BlockHash),
    /// Every signature of this transaction holds.
    Tx(Txid),
}

/// A frame waiting its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The request id the workers answer with.
    pub id: u64,
    /// The connection it came on.
    pub peer: PeerId,
    /// The frame.
    pub bytes: Vec<u8>,
    /// What the workers are checking, until they answer.
    pub checking: Option<Vouched>,
    /// What they vouched for.
    pub verified: Option<Vouched>,
    /// When it arrived (ms).
    pub since: u64,
}

/// Frames in arrival order, and the bytes they hold.
#[derive(Debug, Default)]
pub struct InboundQueue {
    frames: VecDeque<Waiting>,
    bytes: usize,
    next_id: u64,
}

impl InboundQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no frame waits.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes of the frames waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The id the next frame's check gets.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Queues frame `id` from `peer`, which waits for the workers if `checking`. When the
    /// frames waiting then hold more than [`MAX_WAITING_BYTES`], none waits any longer: every
    /// check still open is settled as not vouched for (the node checks those signatures
    /// itself); returns how many were, 0 as a rule.
    pub fn push(
        &mut self,
        id: u64,
        peer: PeerId,
        bytes: Vec<u8>,
        checking: Option<Vouched>,
        now: u64,
    ) -> usize {
        self.bytes = self.bytes.saturating_add(bytes.len());
        self.frames.push_back(Waiting {
            id,
            peer,
            bytes,
            checking,
            verified: None,
            since: now,
        });
        if self.bytes <= MAX_WAITING_BYTES {
            return 0;
        }
        let mut abandoned = 0;
        for f in self.frames.iter_mut().filter(|f| f.checking.is_some()) {
            f.checking = None;
            abandoned += 1;
        }
        abandoned
    }

    /// Records the workers' answer for frame `id`.
    pub fn settle(&mut self, id: u64, ok: bool) {
        if let Some(f) = self.frames.iter_mut().find(|f| f.id == id) {
            let vouch = f.checking.take();
            f.verified = vouch.filter(|_| ok);
        }
    }

    /// Frames still waiting for the workers that arrived before `cutoff` (all with
    /// `u64::MAX`).
    pub fn checking_since_before(&self, cutoff: u64) -> Vec<u64> {
        self.frames
            .iter()
            .filter(|f| f.checking.is_some() && f.since < cutoff)
            .map(|f| f.id)
            .collect()
    }

    /// The frame at the head, once it no longer waits for the workers.
    pub fn pop_ready(&mut self) -> Option<Waiting> {
        if self.frames.front()?.checking.is_some() {
            return None;
        }
        let f = self.frames.pop_front()?;
        self.bytes = self.bytes.saturating_sub(f.bytes.len());
        Some(f)
    }
}
