//! The seed's commands, run against a [`Node`]: the same code serves the CLI on its own
//! (a node built from the store for one command) and a running node (through the control
//! endpoint), so both print the same thing.
//!
//! A command either finishes at once or returns the next [`Step`] its caller must carry out
//! in its own way: mining (inline on the CLI, on a blocking thread in a running node),
//! relaying a payment over WebSocket, or persisting changes made outside the node.
//!
//! Also here: the one error type of the commands ([`error`]), the wallet file
//! ([`wallet_file`]) and the seed's printed forms ([`print`]).
//!
//! May depend on: `store`, `util`.

pub mod error;
pub mod print;
pub mod wallet_file;

pub use error::{parse_address, CliError, RelayError};
pub use print::{print_chain, reindexed};

use std::fmt::Write as _;
use std::path::Path;

use node_core::chain::{self, ChainChanges};
use node_core::consensus::pow;
use node_core::{AcceptOutcome, Block, Chain, Node, Transaction};
use serde::{Deserialize, Serialize};

use crate::store::reindex;
use wallet_file::Wallet;

/// The coinbase text of every genesis block, as in the seed's series.
pub const GENESIS_COINBASE_DATA: &[u8] =
    b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks";

/// A command as data: what the CLI runs locally or hands to a running node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Request {
    /// Create a chain whose genesis pays `address`.
    CreateBlockchain {
        /// Who the genesis pays.
        address: String,
        /// Proof-of-work bits of the new network.
        bits: u32,
    },
    /// Add a key to the wallet.
    CreateWallet,
    /// Show the wallet's addresses.
    ListAddresses,
    /// Confirmed balance of an address.
    GetBalance {
        /// Whose.
        address: String,
    },
    /// Pay from one of this wallet's addresses.
    Send {
        /// A wallet address.
        from: String,
        /// Any address.
        to: String,
        /// Coins.
        amount: u64,
        /// Mine the payment here at once, the coinbase paying the sender.
        mine: bool,
        /// Where to send it when not mining and no node runs on this id.
        relay: String,
    },
    /// Every block, newest first.
    PrintChain,
    /// Rebuild the stored UTXO set from the chain.
    ReindexUtxo,
    /// Digest, height and tip of the stored UTXO set (hidden; for tests).
    UtxoDigest,
    /// Mine `blocks` empty blocks paying `address` (hidden; for tests).
    Generate {
        /// Who the coinbases pay.
        address: String,
        /// How many.
        blocks: u64,
    },
}

impl Request {
    /// Whether the command reads the chain (and so needs the store when run locally).
    pub fn needs_chain(&self) -> bool {
        !matches!(
            self,
            Request::CreateWallet | Request::ListAddresses | Request::CreateBlockchain { .. }
        )
    }
}

/// What the caller does next.
#[derive(Debug)]
pub enum Step {
    /// Print this.
    Done(String),
    /// Mine this template (nonce 0), then call [`finish_mined`].
    Mine(Block),
    /// Send this transaction to the relay at this URL, then print "Success!".
    Relay(Transaction, String),
    /// Persist these changes (made on a copy of the chain), then print the text.
    Persist(ChainChanges, String),
}

/// What a command may use.
pub struct Context<'a> {
    /// The node: its chain, mempool and local commands.
    pub node: &'a mut Node,
    /// This node's wallet file.
    pub wallet: &'a Path,
    /// Milliseconds since the Unix epoch.
    pub now: u64,
    /// Whether this is a running node (peers, a miner) rather than a one-shot CLI.
    pub running: bool,
}

fn chain_of(node: &Node) -> Result<&Chain, CliError> {
    node.chain().ok_or(CliError::NoChain)
}

/// Runs `request` up to its first step the caller must carry out.
pub fn execute(ctx: Context<'_>, request: &Request) -> Result<Step, CliError> {
    match request {
        Request::CreateBlockchain { address, .. } => {
            parse_address("address", address)?;
            if ctx.node.chain().is_some() {
                Err(CliError::ChainExists)
            } else {
                Err(CliError::NotWhileRunning("createblockchain"))
            }
        }
        Request::CreateWallet => {
            let address = Wallet::create_key(ctx.wallet)?;
            Ok(Step::Done(format!("Your new address: {address}\n")))
        }
        Request::ListAddresses => {
            let wallet = Wallet::load(ctx.wallet)?;
            let mut out = String::new();
            for a in wallet.addresses() {
                let _ = writeln!(out, "{a}");
            }
            Ok(Step::Done(out))
        }
        Request::GetBalance { address } => {
            let owner = parse_address("address", address)?;
            let chain = chain_of(ctx.node)?;
            let balance = chain.utxo().balance(&owner.0);
            Ok(Step::Done(format!(
                "Balance of '{}': {balance}\n",
                address.trim()
            )))
        }
        Request::Send {
            from,
            to,
            amount,
            mine,
            relay,
        } => {
            let sender = parse_address("sender address", from)?;
            let recipient = parse_address("recipient address", to)?;
            if *amount == 0 {
                return Err(CliError::BadArgument("amount must be at least 1".into()));
            }
            let wallet = Wallet::load(ctx.wallet)?;
            let key = wallet
                .key_for(&sender.0)
                .ok_or_else(|| CliError::NotInWallet {
                    address: from.trim().to_string(),
                    wallet: ctx.wallet.to_path_buf(),
                })?;
            let chain = chain_of(ctx.node)?;
            let tx = node_core::wallet::build_payment(
                key,
                recipient.0,
                *amount,
                0,
                chain.utxo(),
                ctx.node.mempool(),
            )
            .map_err(CliError::Payment)?;
            if *mine {
                // The seed's `send -mine`: the block's coinbase pays the sender.
                let template = ctx
                    .node
                    .block_template(ctx.now, sender.0, vec![tx])
                    .ok_or(CliError::NoChain)?;
                return Ok(Step::Mine(template));
            }
            if ctx.running {
                ctx.node
                    .submit_transaction(ctx.now, tx)
                    .map_err(|e| CliError::TxRefused(e.to_string()))?;
                return Ok(Step::Done("Success!\n".into()));
            }
            Ok(Step::Relay(tx, relay.clone()))
        }
        Request::PrintChain => Ok(Step::Done(print_chain(chain_of(ctx.node)?))),
        Request::ReindexUtxo => {
            // A running node: its blocks are validated again from the genesis, and their
            // set replaces the stored one only if they all hold (see `crate::store::reindex`).
            let chain = chain_of(ctx.node)?;
            let blocks: Vec<Block> = chain
                .entries()
                .filter_map(|(h, _)| chain.body(&h).map(std::borrow::Cow::into_owned))
                .collect();
            let mut rebuilt =
                reindex::rebuild(chain.params().clone(), blocks, Some(chain.tip()), ctx.now)?;
            if let Some(bad) = &rebuilt.first_invalid {
                return Err(CliError::BadArgument(format!(
                    "block {} at height {} is invalid ({}): stop the node and run reindexutxo \
                     to remove it and the blocks built on it",
                    bad.hash,
                    bad.height,
                    crate::util::peer_text::peer_text(&bad.reason)
                )));
            }
            if rebuilt.chain.tip() != chain.tip() {
                return Err(CliError::BadArgument(
                    "the blocks validated again lead to another tip than the node's: stop the \
                     node and run reindexutxo"
                        .into(),
                ));
            }
            let mut changes = rebuilt.changes();
            // Side blocks the replay did not keep are still in the running node's memory.
            changes.removed.clear();
            Ok(Step::Persist(changes, reindexed(&rebuilt.chain)))
        }
        Request::UtxoDigest => {
            let chain = chain_of(ctx.node)?;
            Ok(Step::Done(format!(
                "UTXO digest: {}\nHeight: {}\nTip: {}\n",
                chain.utxo().digest(),
                chain.height(),
                chain.tip()
            )))
        }
        Request::Generate { address, blocks } => {
            let to = parse_address("address", address)?;
            if ctx.running {
                return Err(CliError::NotWhileRunning("generate"));
            }
            for _ in 0..*blocks {
                let mut block = ctx
                    .node
                    .block_template(ctx.now, to.0, vec![])
                    .ok_or(CliError::NoChain)?;
                pow::mine(&mut block.header);
                match ctx.node.submit_block(ctx.now, block) {
                    Ok(AcceptOutcome::TipChanged(_)) => {}
                    Ok(other) => return Err(CliError::BlockRefused(format!("{other:?}"))),
                    Err(e) => return Err(CliError::BlockRefused(e.to_string())),
                }
            }
            let height = chain_of(ctx.node)?.height();
            Ok(Step::Done(format!("Done! Height is now {height}.\n")))
        }
    }
}

/// Submits a block mined for `send --mine`; "Success!" once it is the new tip.
pub fn finish_mined(node: &mut Node, now: u64, block: Block) -> Result<String, CliError> {
    match node.submit_block(now, block) {
        Ok(AcceptOutcome::TipChanged(_)) => Ok("Success!\n".into()),
        Ok(_) => Err(CliError::BlockRefused(
            "the chain moved on while mining; try again".into(),
        )),
        Err(e) => Err(CliError::BlockRefused(e.to_string())),
    }
}

/// A new chain: the genesis pays `to` the subsidy, at `bits` of proof of work.
pub fn new_chain(to: node_core::PubKeyHash, bits: u32, now: u64) -> Result<Chain, CliError> {
    let params = node_core::ChainParams::default();
    let genesis = chain::mine_genesis(to, params.subsidy, now, bits, GENESIS_COINBASE_DATA);
    Chain::new(params, genesis, now).map_err(|e| CliError::BadArgument(e.to_string()))
}
