//! Network parameters: the few numbers every node of one network must agree on.

/// Consensus and policy parameters of a network.
///
/// The proof-of-work `bits` are not here: they are fixed by the genesis block, so a node that
/// downloads a chain learns them from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    /// Coins created by each block's coinbase (the seed's subsidy of 10).
    pub subsidy: u64,
    /// Largest encoded block accepted, in bytes.
    pub max_block_size: usize,
    /// How far in the future (ms) a block timestamp may be against the local clock.
    pub max_future_ms: u64,
    /// Orphan blocks (parent unknown) kept at most, waiting for their parent.
    pub max_orphans: usize,
    /// Transactions the mempool holds at most.
    pub max_mempool_txs: usize,
    /// A block (height, hash) vouched for by whoever configured this node, as Bitcoin Core's
    /// assume-valid: while it is not yet reached, blocks at or below its height are connected
    /// with every rule checked except signatures; reaching it vouches for their signatures,
    /// and if the chain turns out not to contain it, they are all checked after all.
    pub assume_valid: Option<(u64, crate::BlockHash)>,
}

/// Hard ceiling on a block's encoded size whatever the parameters say (defined with the
/// block's decoding, which must refuse larger input before it allocates).
pub use crate::primitives::block::MAX_BLOCK_SIZE;
/// The largest proof-of-work difficulty (leading zero bits) a genesis may choose.
pub const MAX_BITS: u32 = 64;

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            subsidy: 10,
            max_block_size: MAX_BLOCK_SIZE,
            max_future_ms: 2 * 60 * 60 * 1000,
            max_orphans: 512,
            max_mempool_txs: 5_000,
            assume_valid: None,
        }
    }
}
