//! Mining: the template a worker mines, kept in step with the tip and the mempool, and
//! what happens to a nonce it finds.
//!
//! A new tip is mined at once; a changed mempool on the same tip waits for
//! [`TEMPLATE_REFRESH_MS`]. Below [`NodeConfig::mining_threshold`](super::NodeConfig)
//! transactions nothing is mined (the seed's rule), and the shell is told to stop.

use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use crate::chain::AcceptOutcome;
use crate::consensus::pow;
use crate::consensus::validation::ValidationError;
use crate::primitives::block::Block;
use crate::primitives::hash::{BlockHash, PubKeyHash};
use crate::primitives::tx::Transaction;

use super::{Action, Node, Notification};

/// While the tip stays the same, a mining template is rebuilt for a changed mempool at most
/// this often: a rebuild takes work in the size of the block, so rebuilding it for every
/// transaction of a flood would cost the square of the flood.
pub const TEMPLATE_REFRESH_MS: u64 = 1_000;

/// Bytes of a block kept free of transactions for the header and the coinbase.
const COINBASE_ROOM: usize = 4_096;

/// A block template to mine: find a nonce for `template.header`, then call
/// [`Node::block_mined`] with `id` and the nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiningJob {
    /// Identifies this job; a result for an older job is ignored.
    pub id: u64,
    /// The block with nonce 0.
    pub template: Block,
}

/// Why a mined nonce was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MinedError {
    /// The job was replaced or cancelled meanwhile.
    StaleJob(u64),
    /// The nonce does not meet the target.
    BadNonce,
    /// The block was refused.
    Invalid(ValidationError),
}

impl fmt::Display for MinedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MinedError::StaleJob(id) => write!(f, "mining job {id} is no longer current"),
            MinedError::BadNonce => write!(f, "nonce does not meet the target"),
            MinedError::Invalid(e) => write!(f, "mined block refused: {e}"),
        }
    }
}

/// Mining's own state.
pub(super) struct Mining {
    /// Where to pay, while mining is on.
    to: Option<PubKeyHash>,
    /// The job being mined, with the mempool version it was built from.
    job: Option<(MiningJob, u64)>,
    /// When the current template was built.
    template_at: u64,
    next_job_id: u64,
    /// Counts mempool changes, to notice a template is out of date.
    mempool_version: u64,
}

impl Default for Mining {
    fn default() -> Self {
        Mining {
            to: None,
            job: None,
            template_at: 0,
            next_job_id: 1,
            mempool_version: 0,
        }
    }
}

impl Mining {
    /// Whether mining is on.
    pub(super) fn is_on(&self) -> bool {
        self.to.is_some()
    }

    /// Where mining pays, while on.
    pub(super) fn paying_to(&self) -> Option<PubKeyHash> {
        self.to
    }

    /// Whether a template is being mined now.
    pub(super) fn is_active(&self) -> bool {
        self.job.is_some()
    }

    /// The mempool changed: the template may be out of date.
    pub(super) fn mempool_changed(&mut self) {
        self.mempool_version += 1;
    }

    /// Whether the job on `tip` is still good at `now`: same tip, and the mempool either
    /// unchanged or changed within the refresh period.
    fn job_current(&self, tip: BlockHash, now: u64) -> bool {
        self.job.as_ref().is_some_and(|(job, version)| {
            job.template.header.prev == tip
                && (*version == self.mempool_version
                    || now.saturating_sub(self.template_at) < TEMPLATE_REFRESH_MS)
        })
    }
}

impl Node {
    /// A template on the tip paying `to`, holding `txs` (validated when the block is).
    pub fn block_template(&self, now: u64, to: PubKeyHash, txs: Vec<Transaction>) -> Option<Block> {
        let chain = self.chain.as_ref()?;
        let fees = txs
            .iter()
            .filter_map(|t| {
                let inputs = t.inputs.iter().try_fold(0u64, |acc, i| {
                    let v = chain
                        .utxo()
                        .get(&i.prev)
                        .map(|e| e.output.value)
                        .or_else(|| self.mempool.output(&i.prev).map(|o| o.value))?;
                    acc.checked_add(v)
                })?;
                inputs.checked_sub(t.output_total()?)
            })
            .fold(0u64, u64::saturating_add);
        let data = format!("mined by node {}", self.config.node_id);
        Some(chain.template(to, txs, fees, now, data.as_bytes()))
    }

    /// Accepts a block made here (the CLI's `send --mine`), announcing it if it is valid.
    pub fn submit_block(
        &mut self,
        now: u64,
        block: Block,
    ) -> Result<AcceptOutcome, ValidationError> {
        self.now = now;
        let hash = block.hash();
        let height = block.coinbase_height().unwrap_or(0);
        let result = self.accept_block(block, None);
        if matches!(result, Ok(AcceptOutcome::TipChanged(_))) {
            self.out.notify(Notification::Mined { hash, height });
        }
        self.after_event();
        result
    }

    /// Mines to `to` from now on, whenever the mempool holds enough transactions.
    pub fn start_mining(&mut self, now: u64, to: PubKeyHash) {
        self.now = now;
        self.mining.to = Some(to);
        self.mining.job = None;
        self.update_mining();
    }

    /// Stops mining.
    pub fn stop_mining(&mut self) {
        self.mining.to = None;
        if self.mining.job.take().is_some() {
            self.out.push(Action::StopMining);
        }
    }

    /// A worker found `nonce` for job `job_id`.
    pub fn block_mined(
        &mut self,
        now: u64,
        job_id: u64,
        nonce: u64,
    ) -> Result<BlockHash, MinedError> {
        let Some((job, _)) = self.mining.job.as_ref().filter(|(j, _)| j.id == job_id) else {
            return Err(MinedError::StaleJob(job_id));
        };
        let mut block = job.template.clone();
        block.header.nonce = nonce;
        let hash = block.hash();
        if !pow::meets_target(&hash, block.header.bits) {
            return Err(MinedError::BadNonce);
        }
        self.mining.job = None;
        match self.submit_block(now, block) {
            Ok(_) => Ok(hash),
            Err(e) => Err(MinedError::Invalid(e)),
        }
    }

    /// Keeps the mining job in step with the tip and the mempool.
    pub(super) fn update_mining(&mut self) {
        let Some(to) = self.mining.to else { return };
        let Some(chain) = &self.chain else { return };
        if self.mempool.len() < self.config.mining_threshold.max(1) {
            if self.mining.job.take().is_some() {
                self.out.push(Action::StopMining);
            }
            return;
        }
        if self.mining.job_current(chain.tip(), self.now) {
            return;
        }
        let budget = chain.params().max_block_size.saturating_sub(COINBASE_ROOM);
        let (txs, fees) = self.mempool.select_for_block(budget);
        let data = format!("mined by node {}", self.config.node_id);
        let template = chain.template(to, txs, fees, self.now, data.as_bytes());
        let mining = &mut self.mining;
        let job = MiningJob {
            id: mining.next_job_id,
            template,
        };
        mining.next_job_id += 1;
        mining.template_at = self.now;
        mining.job = Some((job.clone(), mining.mempool_version));
        self.out.push(Action::Mine(job));
    }
}
