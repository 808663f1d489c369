//! A low-difficulty chain built by hand: mining on it, paying from it, and a simulated store
//! fed by `take_changes`. Timestamps come from the chain itself, and the clock passed to
//! `accept_block` is the fixed [`NOW`].

use node_core::chain::{self, AcceptOutcome, TipStep};
use node_core::store::StoredChain;
use node_core::{
    Block, Chain, ChainError, ChainParams, KeyPair, OutPoint, PubKeyHash, Transaction, TxOut,
    UtxoSet, ValidationError,
};

use super::{mine, T0};

/// Proof-of-work bits of chains built by hand: 64 hashes a block on average, because these
/// tests mine hundreds of blocks with real proof of work in debug builds. (Simulated
/// networks use [`super::net::SIM_BITS`].)
pub const FAST_BITS: u32 = 6;
/// Milliseconds between consecutive test blocks.
pub const SPACING: u64 = 60_000;
/// The local clock every test hands to `accept_block`: far after any test block.
pub const NOW: u64 = T0 + 100_000_000_000;
/// The seed's subsidy.
pub const SUBSIDY: u64 = 10;

/// The test genesis at [`FAST_BITS`] paying [`SUBSIDY`] to `to`.
pub fn genesis_paying(to: PubKeyHash) -> Block {
    genesis_at_bits(to, FAST_BITS)
}

/// The test genesis at `bits` paying [`SUBSIDY`] to `to`; a chain on it keeps `bits`.
pub fn genesis_at_bits(to: PubKeyHash, bits: u32) -> Block {
    chain::mine_genesis(to, SUBSIDY, T0, bits, b"genesis")
}

/// A chain on the test genesis paying `to`, default parameters.
pub fn new_chain(to: PubKeyHash) -> Chain {
    chain_with(ChainParams::default(), genesis_paying(to))
}

/// A chain on `genesis` with `params`.
pub fn chain_with(params: ChainParams, genesis: Block) -> Chain {
    Chain::new(params, genesis, NOW).expect("the test genesis is valid")
}

/// The timestamp a block built on the tip gets: one spacing after the tip.
pub fn next_time(chain: &Chain) -> u64 {
    chain.entry(&chain.tip()).expect("tip is indexed").timestamp + SPACING
}

/// What an outpoint pays, looking in the UTXO set and then in `earlier` transactions.
pub fn lookup(utxo: &UtxoSet, earlier: &[Transaction], op: &OutPoint) -> Option<TxOut> {
    utxo.get(op).map(|e| e.output).or_else(|| {
        earlier
            .iter()
            .find(|t| t.txid() == op.txid)
            .and_then(|t| t.outputs.get(op.vout as usize).copied())
    })
}

/// Fees `txs` pay when mined in this order on the tip (0 for anything that does not add up).
pub fn fees(chain: &Chain, txs: &[Transaction]) -> u64 {
    let mut total = 0u64;
    for (i, tx) in txs.iter().enumerate() {
        let mut inputs = 0u64;
        for input in &tx.inputs {
            inputs = inputs.saturating_add(
                lookup(chain.utxo(), &txs[..i], &input.prev).map_or(0, |o| o.value),
            );
        }
        let outputs = tx.output_total().unwrap_or(u64::MAX);
        total = total.saturating_add(inputs.saturating_sub(outputs));
    }
    total
}

/// Recomputes the Merkle root after tampering, then mines.
pub fn remine(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root();
    mine(block);
}

/// An unmined template on the tip: coinbase to `miner` with the right fees, then `txs`.
pub fn template(chain: &Chain, miner: PubKeyHash, txs: Vec<Transaction>, data: &[u8]) -> Block {
    let fee = fees(chain, &txs);
    chain.template(miner, txs, fee, next_time(chain), data)
}

/// A mined, valid block on the tip (not accepted).
pub fn block_on(chain: &Chain, miner: PubKeyHash, txs: Vec<Transaction>, data: &[u8]) -> Block {
    let mut block = template(chain, miner, txs, data);
    mine(&mut block);
    block
}

/// Accepts `block` with the test clock.
pub fn accept(chain: &mut Chain, block: Block) -> Result<AcceptOutcome, ValidationError> {
    chain.accept_block(block, NOW)
}

/// Mines `txs` on the tip with a coinbase to `miner`, accepts it and returns the tip steps.
pub fn mine_on_with_steps(
    chain: &mut Chain,
    miner: PubKeyHash,
    txs: Vec<Transaction>,
) -> (Block, Vec<TipStep>) {
    let block = block_on(chain, miner, txs, b"");
    match accept(chain, block.clone()) {
        Ok(AcceptOutcome::TipChanged(steps)) => (block, steps),
        other => panic!("mined block was not connected: {other:?}"),
    }
}

/// Mines `txs` on the tip with a coinbase to `miner` and accepts it.
pub fn mine_on(chain: &mut Chain, miner: PubKeyHash, txs: Vec<Transaction>) -> Block {
    mine_on_with_steps(chain, miner, txs).0
}

/// Mines `n` empty blocks paying `miner`.
pub fn mine_empty(chain: &mut Chain, miner: PubKeyHash, n: usize) -> Vec<Block> {
    (0..n).map(|_| mine_on(chain, miner, Vec::new())).collect()
}

/// Output `vout` of `tx`.
pub fn outpoint(tx: &Transaction, vout: u32) -> OutPoint {
    OutPoint {
        txid: tx.txid(),
        vout,
    }
}

/// The coinbase output of `block`.
pub fn coinbase_of(block: &Block) -> OutPoint {
    outpoint(&block.transactions[0], 0)
}

/// A payment signed by `key` spending `inputs` and paying `outputs`.
pub fn pay(key: &KeyPair, inputs: &[OutPoint], outputs: &[(PubKeyHash, u64)]) -> Transaction {
    Transaction::new_signed(
        key,
        inputs,
        outputs
            .iter()
            .map(|(to, value)| TxOut {
                value: *value,
                pubkey_hash: *to,
            })
            .collect(),
    )
}

/// The active blocks above `height`, oldest first.
pub fn active_after(chain: &Chain, height: u64) -> Vec<Block> {
    (height + 1..=chain.height())
        .map(|h| chain.block_at(h).expect("active block").clone())
        .collect()
}

/// A fresh chain on `chain`'s genesis that connects `chain`'s active blocks one by one.
pub fn replay_active(chain: &Chain) -> Chain {
    let genesis = chain.block_at(0).expect("genesis").clone();
    let mut fresh = chain_with(chain.params().clone(), genesis);
    for block in active_after(chain, 0) {
        match accept(&mut fresh, block) {
            Ok(AcceptOutcome::TipChanged(_)) => {}
            other => panic!("replayed block not connected: {other:?}"),
        }
    }
    fresh
}

/// A store that applies [`ChainChanges`] the way the relay's database and a tab's journal
/// do ([`StoredChain`]), with the steps the tests repeat.
#[derive(Debug, Default, Clone)]
pub struct Store(pub StoredChain);

impl Store {
    /// Takes `chain`'s pending changes and writes them.
    pub fn sync(&mut self, chain: &mut Chain) {
        self.0.apply(&chain.take_changes());
    }

    /// Restores a chain from what is stored.
    pub fn restore(&self, params: ChainParams) -> Result<Chain, ChainError> {
        self.0
            .clone()
            .into_chain(params)
            .map(|c| c.expect("a tip was stored"))
    }
}

/// A mined block on `parent` (at `height`) with a coinbase of the subsidy to `miner` tagged
/// `data`, then `txs` (which must pay no fee), whatever the chain's tip is.
pub fn child_of(
    parent: &Block,
    height: u64,
    miner: PubKeyHash,
    txs: Vec<Transaction>,
    data: &[u8],
) -> Block {
    child_paying(parent, height, miner, SUBSIDY, txs, data)
}

/// [`child_of`] on a network whose coinbase pays `subsidy`.
pub fn child_paying(
    parent: &Block,
    height: u64,
    miner: PubKeyHash,
    subsidy: u64,
    txs: Vec<Transaction>,
    data: &[u8],
) -> Block {
    let mut all = vec![Transaction::new_coinbase(height, miner, subsidy, data)];
    all.extend(txs);
    let mut block = Block::new_template(
        parent.hash(),
        parent.header.timestamp + SPACING,
        FAST_BITS,
        all,
    );
    mine(&mut block);
    block
}
