//! The consensus rules a block or transaction must meet, and the typed reasons for refusal.
//!
//! Checks come in two kinds. Context-free checks ([`check_transaction`], [`check_block`])
//! look at the bytes alone and run before anything is stored; a block that passed is a
//! [`CheckedBlock`], the only kind a chain indexes. Contextual checks
//! ([`check_inputs`]) need the outputs being spent and run when a block is connected to the
//! chain or a transaction enters the mempool.

use alloc::vec::Vec;
use core::fmt;

use crate::consensus::params::ChainParams;
use crate::consensus::pow;
use crate::primitives::block::Block;
use crate::primitives::hash::{BlockHash, PubKeyHash, Txid};
use crate::primitives::keys::{self, SignatureError, PUBLIC_KEY_SIZE, SIGNATURE_SIZE};
use crate::primitives::tx::{OutPoint, Transaction, TxOut, MAX_COINBASE_DATA, MAX_TX_SIZE};
use crate::util::keyed_map::{KeyedMap, KeyedSet};
use crate::utxo::UtxoSet;

/// Number of blocks whose median timestamp a new block must exceed (Bitcoin's 11): one
/// miner's clock cannot move the median, and it still follows real time.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// Every reason a block or transaction is refused. The message names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationError {
    /// The block's encoding is larger than the limit.
    BlockTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The transaction's encoding is larger than the limit.
    TxTooLarge(usize),
    /// The block hash does not meet its own target.
    BadProofOfWork,
    /// The header's bits are not the network's.
    WrongBits {
        /// The network's bits.
        expected: u32,
        /// What the header says.
        got: u32,
    },
    /// The header version is not one we know.
    UnknownVersion(u32),
    /// The parent block is not known.
    UnknownParent(BlockHash),
    /// The block's parent (or an ancestor) was found invalid.
    InvalidAncestor(BlockHash),
    /// The header's Merkle root does not match the transactions.
    BadMerkleRoot,
    /// The block has no transactions.
    NoTransactions,
    /// The first transaction is not a coinbase.
    MissingCoinbase,
    /// A coinbase appears after the first transaction.
    ExtraCoinbase {
        /// Its position in the block.
        index: usize,
    },
    /// The coinbase pays more than subsidy plus fees.
    CoinbaseOverpays {
        /// What it pays.
        value: u64,
        /// Subsidy plus fees.
        allowed: u64,
    },
    /// The coinbase's height is not the block's.
    CoinbaseWrongHeight {
        /// The block's height.
        expected: u64,
        /// What the coinbase says.
        got: u64,
    },
    /// The coinbase carries more free data than allowed.
    CoinbaseDataTooLong(usize),
    /// A coinbase cannot be relayed or put in the mempool on its own.
    CoinbaseOutsideBlock,
    /// The same transaction appears twice in the block.
    DuplicateTransaction(Txid),
    /// The timestamp is not after the median of the last [`MEDIAN_TIME_SPAN`] blocks.
    TimestampTooOld {
        /// The block's timestamp.
        timestamp: u64,
        /// Median time past.
        median: u64,
    },
    /// The timestamp is too far ahead of the local clock.
    TimestampInFuture {
        /// The block's timestamp.
        timestamp: u64,
        /// The latest acceptable.
        limit: u64,
    },
    /// A non-coinbase transaction without inputs.
    NoInputs,
    /// A transaction without outputs.
    NoOutputs,
    /// An output of value zero.
    ZeroValueOutput {
        /// Its position.
        vout: usize,
    },
    /// Values add up beyond 2^64.
    ValueOverflow,
    /// The same output is spent twice by one transaction.
    DuplicateInput(OutPoint),
    /// An input spends an output that does not exist or is already spent.
    MissingInput(OutPoint),
    /// Two transactions of one block spend the same output.
    DoubleSpendInBlock(OutPoint),
    /// An input's public key is not a valid uncompressed P-256 key.
    BadPublicKey {
        /// Input position.
        input: usize,
    },
    /// An input's public key does not hash to the spent output's key hash.
    KeyMismatch {
        /// Input position.
        input: usize,
    },
    /// An input's signature is malformed, high-S, or does not verify.
    BadSignature {
        /// Input position.
        input: usize,
        /// What is wrong with it.
        reason: SignatureError,
    },
    /// Outputs are worth more than the inputs.
    OutputsExceedInputs {
        /// Sum of inputs.
        inputs: u64,
        /// Sum of outputs.
        outputs: u64,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ValidationError::*;
        match self {
            BlockTooLarge { size, limit } => write!(f, "block of {size} bytes exceeds {limit}"),
            TxTooLarge(size) => write!(f, "transaction of {size} bytes exceeds {MAX_TX_SIZE}"),
            BadProofOfWork => write!(f, "block hash does not meet the proof-of-work target"),
            WrongBits { expected, got } => {
                write!(
                    f,
                    "wrong difficulty: bits {got}, the network uses {expected}"
                )
            }
            UnknownVersion(v) => write!(f, "unknown block version {v}"),
            UnknownParent(h) => write!(f, "parent block {h} is unknown"),
            InvalidAncestor(h) => write!(f, "descends from invalid block {h}"),
            BadMerkleRoot => write!(f, "merkle root does not match the transactions"),
            NoTransactions => write!(f, "block has no transactions"),
            MissingCoinbase => write!(f, "first transaction is not a coinbase"),
            ExtraCoinbase { index } => write!(f, "second coinbase at position {index}"),
            CoinbaseOverpays { value, allowed } => {
                write!(
                    f,
                    "coinbase pays {value}, more than subsidy plus fees {allowed}"
                )
            }
            CoinbaseWrongHeight { expected, got } => {
                write!(
                    f,
                    "coinbase height {got} is not the block height {expected}"
                )
            }
            CoinbaseDataTooLong(n) => {
                write!(f, "coinbase data of {n} bytes exceeds {MAX_COINBASE_DATA}")
            }
            CoinbaseOutsideBlock => write!(f, "a coinbase is only valid first in a block"),
            DuplicateTransaction(id) => write!(f, "transaction {id} appears twice in the block"),
            TimestampTooOld { timestamp, median } => write!(
                f,
                "timestamp {timestamp} is not after the median of the last {MEDIAN_TIME_SPAN} blocks {median}"
            ),
            TimestampInFuture { timestamp, limit } => {
                write!(
                    f,
                    "timestamp {timestamp} is too far in the future (limit {limit})"
                )
            }
            NoInputs => write!(f, "transaction has no inputs"),
            NoOutputs => write!(f, "transaction has no outputs"),
            ZeroValueOutput { vout } => write!(f, "output {vout} has value 0"),
            ValueOverflow => write!(f, "values overflow"),
            DuplicateInput(o) => write!(
                f,
                "output {}:{} spent twice in one transaction",
                o.txid, o.vout
            ),
            MissingInput(o) => write!(f, "input {}:{} is unknown or already spent", o.txid, o.vout),
            DoubleSpendInBlock(o) => {
                write!(f, "output {}:{} spent twice in the block", o.txid, o.vout)
            }
            BadPublicKey { input } => write!(f, "input {input} has an invalid public key"),
            KeyMismatch { input } => {
                write!(
                    f,
                    "input {input}'s public key does not own the spent output"
                )
            }
            BadSignature { input, reason } => write!(f, "input {input}: {reason}"),
            OutputsExceedInputs { inputs, outputs } => {
                write!(f, "outputs {outputs} exceed inputs {inputs}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ValidationError {}

/// Checks a transaction on its own: shape, sizes, values, no input spent twice.
pub fn check_transaction(tx: &Transaction) -> Result<(), ValidationError> {
    let size = tx.encode().len();
    if size > MAX_TX_SIZE {
        return Err(ValidationError::TxTooLarge(size));
    }
    match &tx.coinbase {
        Some(cb) => {
            if !tx.inputs.is_empty() {
                // A coinbase with inputs would let it spend and create at once.
                return Err(ValidationError::CoinbaseOutsideBlock);
            }
            if cb.data.len() > MAX_COINBASE_DATA {
                return Err(ValidationError::CoinbaseDataTooLong(cb.data.len()));
            }
        }
        None => {
            if tx.inputs.is_empty() {
                return Err(ValidationError::NoInputs);
            }
        }
    }
    if tx.outputs.is_empty() {
        return Err(ValidationError::NoOutputs);
    }
    if let Some(vout) = tx.outputs.iter().position(|o| o.value == 0) {
        return Err(ValidationError::ZeroValueOutput { vout });
    }
    tx.output_total().ok_or(ValidationError::ValueOverflow)?;
    let mut seen = KeyedSet::new();
    for (i, input) in tx.inputs.iter().enumerate() {
        if !seen.insert(input.prev) {
            return Err(ValidationError::DuplicateInput(input.prev));
        }
        if input.public_key.len() != PUBLIC_KEY_SIZE {
            return Err(ValidationError::BadPublicKey { input: i });
        }
        if input.signature.len() != SIGNATURE_SIZE {
            return Err(ValidationError::BadSignature {
                input: i,
                reason: SignatureError::Malformed,
            });
        }
    }
    Ok(())
}

/// A block that passed [`check_block`], with what the check computed. Only a checked block
/// can be indexed by a [`crate::chain::Chain`]: there is no other way to make one, so a
/// block that skipped the check cannot reach the chain (smoldot's `VerifiedHeader`,
/// rust-bitcoin's `Block<Checked>`). Its txids travel with it, so connecting the block
/// need not hash its transactions again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBlock {
    block: Block,
    txids: Vec<Txid>,
}

impl CheckedBlock {
    /// The block that was checked.
    pub fn block(&self) -> &Block {
        &self.block
    }
    /// The ids of its transactions, in block order, that the Merkle root was checked with.
    pub fn txids(&self) -> &[Txid] {
        &self.txids
    }
    /// The block alone, for a place that keeps blocks whether checked or not (orphans are
    /// checked again when their parent comes).
    pub fn into_block(self) -> Block {
        self.block
    }
    /// The block and its txids, taken apart where the block is stored.
    pub fn into_parts(self) -> (Block, Vec<Txid>) {
        (self.block, self.txids)
    }
}

/// Checks a block on its own, before it is stored: size, proof of work and bits, Merkle root,
/// exactly one coinbase and first, no repeated transaction, timestamp not far in the future.
/// Returns the block as a [`CheckedBlock`], the proof that it passed.
pub fn check_block(
    block: Block,
    bits: u32,
    params: &ChainParams,
    now_ms: u64,
) -> Result<CheckedBlock, ValidationError> {
    let txids = check_block_txids(&block, bits, params, now_ms)?;
    Ok(CheckedBlock { block, txids })
}

/// The checks of [`check_block`] on a borrowed block, returning the txids the Merkle root was
/// checked with. For a caller that only audits blocks (a stored journal): it proves nothing
/// to a chain.
pub fn check_block_txids(
    block: &Block,
    bits: u32,
    params: &ChainParams,
    now_ms: u64,
) -> Result<Vec<Txid>, ValidationError> {
    if block.header.version != crate::primitives::block::BLOCK_VERSION {
        return Err(ValidationError::UnknownVersion(block.header.version));
    }
    if block.header.bits != bits {
        return Err(ValidationError::WrongBits {
            expected: bits,
            got: block.header.bits,
        });
    }
    if !pow::meets_target(&block.hash(), bits) {
        return Err(ValidationError::BadProofOfWork);
    }
    let limit = params
        .max_block_size
        .min(crate::consensus::params::MAX_BLOCK_SIZE);
    let size = block.encoded_size();
    if size > limit {
        return Err(ValidationError::BlockTooLarge { size, limit });
    }
    let future_limit = now_ms.saturating_add(params.max_future_ms);
    if block.header.timestamp > future_limit {
        return Err(ValidationError::TimestampInFuture {
            timestamp: block.header.timestamp,
            limit: future_limit,
        });
    }
    let first = block
        .transactions
        .first()
        .ok_or(ValidationError::NoTransactions)?;
    if !first.is_coinbase() {
        return Err(ValidationError::MissingCoinbase);
    }
    if let Some(index) = block
        .transactions
        .iter()
        .skip(1)
        .position(|t| t.is_coinbase())
    {
        return Err(ValidationError::ExtraCoinbase { index: index + 1 });
    }
    let txids = block.txids();
    let mut ids = KeyedSet::new();
    for id in &txids {
        if !ids.insert(*id) {
            return Err(ValidationError::DuplicateTransaction(*id));
        }
    }
    if Block::merkle_root_of(&txids) != block.header.merkle_root {
        return Err(ValidationError::BadMerkleRoot);
    }
    for tx in &block.transactions {
        check_transaction(tx)?;
    }
    Ok(txids)
}

/// Whether a failure proves the block hash itself bad, so that hash may be remembered as
/// invalid. Failures that a relay could cause by changing the body under a valid header (a
/// different transaction list with the same root, say) must not condemn the hash.
pub fn condemns_header(err: &ValidationError) -> bool {
    !matches!(
        err,
        ValidationError::BlockTooLarge { .. }
            | ValidationError::BadMerkleRoot
            | ValidationError::DuplicateTransaction(_)
            | ValidationError::TimestampInFuture { .. }
            | ValidationError::UnknownParent(_)
            | ValidationError::NoTransactions
            | ValidationError::MissingCoinbase
            | ValidationError::ExtraCoinbase { .. }
            | ValidationError::TxTooLarge(_)
    )
}

/// Checks every input signature of a transaction on its own (without the spent outputs:
/// [`check_inputs`] still matches each key to its output). Returns the txid when all hold.
pub fn verify_signatures(tx: &Transaction) -> Result<Txid, ValidationError> {
    if tx.is_coinbase() || tx.inputs.is_empty() {
        return Err(ValidationError::CoinbaseOutsideBlock);
    }
    let message = tx.signature_message();
    for (i, input) in tx.inputs.iter().enumerate() {
        keys::verify(&input.public_key, &message, &input.signature).map_err(
            |reason| match reason {
                SignatureError::BadPublicKey => ValidationError::BadPublicKey { input: i },
                reason => ValidationError::BadSignature { input: i, reason },
            },
        )?;
    }
    Ok(tx.txid())
}

/// Checks a (non-coinbase) transaction's inputs against the outputs they spend, found by
/// `lookup`: each exists, belongs to the key presented, is signed, and inputs cover outputs.
/// Returns the fee. With `verify_signatures` false (assume-valid), signatures are skipped
/// but everything else is still checked.
pub fn check_inputs(
    tx: &Transaction,
    lookup: impl Fn(&OutPoint) -> Option<TxOut>,
    verify_signatures: bool,
) -> Result<u64, ValidationError> {
    if tx.is_coinbase() {
        return Err(ValidationError::CoinbaseOutsideBlock);
    }
    let message = if verify_signatures {
        Some(tx.signature_message())
    } else {
        None
    };
    let mut total_in = 0u64;
    for (i, input) in tx.inputs.iter().enumerate() {
        let spent = lookup(&input.prev).ok_or(ValidationError::MissingInput(input.prev))?;
        if PubKeyHash::of_public_key(&input.public_key) != spent.pubkey_hash {
            return Err(ValidationError::KeyMismatch { input: i });
        }
        if let Some(message) = &message {
            keys::verify(&input.public_key, message, &input.signature).map_err(|reason| {
                match reason {
                    SignatureError::BadPublicKey => ValidationError::BadPublicKey { input: i },
                    reason => ValidationError::BadSignature { input: i, reason },
                }
            })?;
        }
        total_in = total_in
            .checked_add(spent.value)
            .ok_or(ValidationError::ValueOverflow)?;
    }
    let total_out = tx.output_total().ok_or(ValidationError::ValueOverflow)?;
    if total_out > total_in {
        return Err(ValidationError::OutputsExceedInputs {
            inputs: total_in,
            outputs: total_out,
        });
    }
    Ok(total_in - total_out)
}

/// The checks of connecting `block` (its transactions' ids `txids`) on `utxo` that decide
/// who owns what: every input of every non-coinbase transaction exists (in the set or
/// earlier in the block), is spent once, belongs to the key presented (and is signed, with
/// `verify_signatures`) and covers its outputs, and the coinbase claims at most `subsidy`
/// and the fees. One function for the chain and for a browser's audit of its stored chain,
/// so the two cannot drift apart (and the page's module holds one copy).
pub fn check_block_spends(
    block: &Block,
    txids: &[Txid],
    utxo: &UtxoSet,
    verify_signatures: bool,
    subsidy: u64,
) -> Result<(), ValidationError> {
    let mut spent_here = KeyedSet::new();
    let mut created_here: KeyedMap<OutPoint, TxOut> = KeyedMap::new();
    let mut fees = 0u64;
    for (tx, txid) in block.transactions.iter().zip(txids).skip(1) {
        for input in &tx.inputs {
            if spent_here.contains(&input.prev) {
                return Err(ValidationError::DoubleSpendInBlock(input.prev));
            }
        }
        let fee = check_inputs(
            tx,
            |op| {
                created_here
                    .get(op)
                    .copied()
                    .or_else(|| utxo.get(op).map(|e| e.output))
            },
            verify_signatures,
        )?;
        fees = fees
            .checked_add(fee)
            .ok_or(ValidationError::ValueOverflow)?;
        for input in &tx.inputs {
            spent_here.insert(input.prev);
            created_here.remove(&input.prev);
        }
        for (vout, o) in tx.outputs.iter().enumerate() {
            created_here.insert(
                OutPoint {
                    txid: *txid,
                    vout: vout as u32,
                },
                *o,
            );
        }
    }
    let allowed = subsidy.saturating_add(fees);
    let value = block
        .transactions
        .first()
        .and_then(|cb| cb.output_total())
        .ok_or(ValidationError::ValueOverflow)?;
    if value > allowed {
        return Err(ValidationError::CoinbaseOverpays { value, allowed });
    }
    Ok(())
}
