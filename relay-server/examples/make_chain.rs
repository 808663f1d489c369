//! Writes a relay data directory holding a long chain of realistic blocks, for sync
//! benchmarks: every block has a coinbase and `--txs` payments of `--inputs` signed inputs.
//!
//! `cargo run --release -p relay-server --example make_chain -- --data-dir DIR --blocks 10000`
//! then `relay-server --data-dir DIR startnode` serves it (node id 3000).

use std::path::PathBuf;
use std::process::ExitCode;

use node_core::chain::mine_genesis;
use node_core::consensus::params::ChainParams;
use node_core::{consensus::pow, Chain, KeyPair, OutPoint, Transaction, TxOut};
use rand_core::OsRng;
use relay_server::store::Store;

fn arg(name: &str) -> Option<String> {
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == name {
            return it.next();
        }
    }
    None
}

fn main() -> ExitCode {
    let Some(dir) = arg("--data-dir").map(PathBuf::from) else {
        eprintln!(
            "usage: make_chain --data-dir DIR [--blocks N] [--txs 3] [--inputs 2] [--bits 8]"
        );
        return ExitCode::from(2);
    };
    let num = |name: &str, default: u64| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (blocks, txs, inputs, bits) = (
        num("--blocks", 10_000),
        num("--txs", 3) as usize,
        num("--inputs", 2) as usize,
        num("--bits", 8) as u32,
    );
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let path = dir.join("blockchain_3000.db");
    let store = match Store::create(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let key = KeyPair::generate(&mut OsRng);
    let owner = key.pubkey_hash();
    let mut now = 1_700_000_000_000u64;
    let genesis = mine_genesis(owner, 10, now, bits, b"sync benchmark");
    let mut chain = match Chain::new(ChainParams::default(), genesis, now) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Coins of the owner not yet spent, oldest first.
    let mut coins: std::collections::VecDeque<(OutPoint, u64)> = std::collections::VecDeque::new();
    coins.push_back((
        OutPoint {
            txid: chain
                .block_at(0)
                .map(|b| b.transactions[0].txid())
                .unwrap_or(node_core::Txid::ZERO),
            vout: 0,
        },
        10,
    ));
    let mut batch = Vec::new();
    for height in 1..=blocks {
        now += 1_000;
        let mut block_txs = Vec::new();
        for _ in 0..txs {
            if coins.len() < inputs {
                break;
            }
            let spent: Vec<(OutPoint, u64)> =
                (0..inputs).filter_map(|_| coins.pop_front()).collect();
            let total: u64 = spent.iter().map(|(_, v)| v).sum();
            let points: Vec<OutPoint> = spent.iter().map(|(op, _)| *op).collect();
            let tx = Transaction::new_signed(
                &key,
                &points,
                vec![
                    TxOut {
                        value: 1,
                        pubkey_hash: owner,
                    },
                    TxOut {
                        value: total - 1,
                        pubkey_hash: owner,
                    },
                ],
            );
            block_txs.push(tx);
        }
        let mut block = chain.template(owner, block_txs, 0, now, b"");
        let _ = pow::mine(&mut block.header);
        for tx in &block.transactions {
            let id = tx.txid();
            for (vout, o) in tx.outputs.iter().enumerate() {
                coins.push_back((
                    OutPoint {
                        txid: id,
                        vout: vout as u32,
                    },
                    o.value,
                ));
            }
        }
        if let Err(e) = chain.accept_block(block, now) {
            eprintln!("error: block {height} refused: {e}");
            return ExitCode::FAILURE;
        }
        batch.push(chain.take_changes());
        if batch.len() == 500 || height == blocks {
            if let Err(e) = store.apply(&batch) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            batch.clear();
            eprintln!("height {height}");
        }
    }
    let first = chain.take_changes();
    if !first.is_empty() {
        let _ = store.apply(&[first]);
    }
    println!(
        "{} blocks in {}, tip {}",
        chain.height(),
        path.display(),
        chain.tip()
    );
    ExitCode::SUCCESS
}
