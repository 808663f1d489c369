//! Running one CLI command: handed to the node running on this id if there is one
//! ([`control_client`]), else run here on the node's files; `send` without `--mine` hands
//! its payment to a relay over WebSocket ([`ws_client`]).
//!
//! May depend on: `commands`, `store`, `hub` (the miner's `solve`), `http` (the control
//! files' format), `net` (WebSocket limits), `paths`, `util`.

pub mod control_client;
pub mod http_client;
pub mod single_dash;
pub mod ws_client;

use std::fs;

use node_core::chain::ChainChanges;
use node_core::node::{Action, NodeConfig};
use node_core::{ChainParams, Node};

use crate::commands::{self, parse_address, CliError, Context, Request, Step};
use crate::hub::miner;
use crate::paths::DataPaths;
use crate::store::reindex;
use crate::store::{Store, StoreError};
use crate::util::now_ms;
use crate::util::peer_text::peer_text;

/// Runs `request` and returns what to print.
pub async fn run(paths: &DataPaths, request: Request) -> Result<String, CliError> {
    // Bad arguments fail before anything is read or written, running node or not.
    check_arguments(&request)?;
    if let Some(answer) = control_client::hand_over(paths, &request).await {
        return answer;
    }
    match request {
        Request::CreateBlockchain { address, bits } => create_blockchain(paths, &address, bits),
        other => run_here(paths, other).await,
    }
}

fn check_arguments(request: &Request) -> Result<(), CliError> {
    match request {
        Request::CreateBlockchain { address, .. }
        | Request::GetBalance { address }
        | Request::Generate { address, .. } => parse_address("address", address).map(drop),
        Request::Send { from, to, .. } => {
            parse_address("sender address", from)?;
            parse_address("recipient address", to).map(drop)
        }
        _ => Ok(()),
    }
}

/// The seed's `createblockchain`: a genesis paying `address`, in a new chain file.
fn create_blockchain(paths: &DataPaths, address: &str, bits: u32) -> Result<String, CliError> {
    let to = parse_address("address", address)?;
    let path = paths.chain_db();
    // A file without a tip is left by a node that never got its genesis: it may be reused.
    let store = if path.exists() {
        let store = Store::open(&path)?;
        if store.load_chain(ChainParams::default())?.is_some() {
            return Err(CliError::ChainExists);
        }
        store
    } else {
        fs::create_dir_all(paths.dir())
            .map_err(CliError::io(format!("creating {}", paths.dir().display())))?;
        Store::create(&path)?
    };
    let mut chain = commands::new_chain(to.0, bits, now_ms())?;
    if let Err(e) = store.apply(&[chain.take_changes()]) {
        drop(store);
        let _ = fs::remove_file(&path);
        return Err(e.into());
    }
    Ok(format!("Genesis block: {}\nDone!\n", chain.genesis_hash()))
}

/// `reindexutxo` on the files: every stored block validated from the genesis, the UTXO set
/// and undo data rebuilt from the valid ones (see [`crate::store::reindex`]). Whatever was dropped
/// is said in one line on stderr.
fn reindex_stored(paths: &DataPaths) -> Result<String, CliError> {
    let store = Store::open(&paths.chain_db())?;
    let stored = store.read_blocks()?;
    if stored.blocks.is_empty() {
        return Err(CliError::NoChain);
    }
    let mut rebuilt =
        reindex::rebuild(ChainParams::default(), stored.blocks, stored.tip, now_ms())?;
    let changes = rebuilt.changes();
    store.replace_rebuilt(&changes, &stored.bad_keys)?;
    let chain = &rebuilt.chain;
    if let Some(bad) = &rebuilt.first_invalid {
        tracing::warn!(
            "block {} at height {} of the stored chain is invalid ({}): it and every block built \
             on it were removed ({} blocks in all); the chain now ends at height {}",
            bad.hash,
            bad.height,
            peer_text(&bad.reason),
            rebuilt.dropped.len(),
            chain.height()
        );
    } else if !rebuilt.dropped.is_empty() || !stored.bad_keys.is_empty() {
        tracing::warn!(
            "{} stored blocks were invalid, unreadable or unconnected and were removed; the \
             chain ends at height {}",
            rebuilt.dropped.len() + stored.bad_keys.len(),
            chain.height()
        );
    }
    Ok(commands::reindexed(chain))
}

/// Runs a command on a node built from this id's files for the duration of the command.
async fn run_here(paths: &DataPaths, request: Request) -> Result<String, CliError> {
    if request == Request::ReindexUtxo {
        return reindex_stored(paths);
    }
    if request == Request::CreateWallet {
        fs::create_dir_all(paths.dir())
            .map_err(CliError::io(format!("creating {}", paths.dir().display())))?;
    }
    let store = if request.needs_chain() {
        Some(Store::open(&paths.chain_db())?)
    } else {
        None
    };
    let chain = match &store {
        Some(s) => Some(
            s.load_chain(ChainParams::default())?
                .ok_or(CliError::NoChain)?,
        ),
        None => None,
    };
    let config = NodeConfig {
        node_id: paths.node_id().to_string(),
        ..NodeConfig::default()
    };
    let mut node = Node::new(config, chain);
    let now = now_ms();
    let wallet = paths.wallet();
    let ctx = Context {
        node: &mut node,
        wallet: &wallet,
        now,
        running: false,
    };
    let mut extra = Vec::new();
    let output = match commands::execute(ctx, &request)? {
        Step::Done(out) => out,
        Step::Persist(changes, out) => {
            extra.push(changes);
            out
        }
        Step::Mine(mut block) => {
            let header = block.header;
            let nonce = tokio::task::spawn_blocking(move || {
                miner::solve(&header, &std::sync::atomic::AtomicBool::new(false))
            })
            .await
            .ok()
            .flatten()
            .ok_or_else(|| CliError::BlockRefused("mining was interrupted".into()))?;
            block.header.nonce = nonce;
            commands::finish_mined(&mut node, now, block)?
        }
        Step::Relay(tx, url) => {
            let chain = node.chain().ok_or(CliError::NoChain)?;
            ws_client::submit(&url, paths.node_id(), chain, &tx).await?;
            "Success!\n".to_string()
        }
    };
    // What the node changed (blocks mined here) commits as one transaction.
    let mut batches: Vec<ChainChanges> = node
        .drain_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Persist(c) => Some(c),
            _ => None,
        })
        .collect();
    batches.extend(extra);
    if !batches.is_empty() {
        let store = store.as_ref().ok_or(StoreError::Missing)?;
        store.apply(&batches)?;
    }
    Ok(output)
}
