//! `kill -9` at random moments while blocks are being imported, many times over: every
//! restart finds a chain and a UTXO set that agree (the stored set equals a reindex of the
//! stored chain, done on a copy), and every block acknowledged before the kill is there.
//!
//! Two ways of importing alternate: node 3001 downloading the chain of relay 3000 (a block
//! counts as acknowledged once 3001's `/status` reported its height), and relay 3000 mining
//! `send --mine` payments one after another through its control endpoint (acknowledged once
//! the CLI printed "Success!"). Kill delays come from a seeded generator, so a failing run
//! can be repeated: `CRASH_SEED` and `CRASH_KILLS` (default 20) in the environment.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use node_core::sim::SimRng;

/// Blocks relay 3000 starts with per kill: more than the downloads between kills get
/// through, so node 3001 is still downloading at the last one.
const BLOCKS_PER_KILL: u64 = 400;
/// Kills by default.
const KILLS: u64 = 20;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Block hashes by height, from `printchain`.
fn hashes_by_height(dir: &Path, id: &str) -> BTreeMap<u64, String> {
    let out = ok(dir, id, &["printchain"]);
    let mut map = BTreeMap::new();
    let mut hash = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("============ Block ") {
            hash = rest.split_whitespace().next().map(String::from);
        } else if let Some(h) = line.strip_prefix("Height: ") {
            let height = h.trim().parse().expect("height is a number");
            map.insert(height, hash.take().expect("a block header line first"));
        }
    }
    map
}

/// What one kill left behind, checked with the node down: the stored UTXO set equals the
/// one a reindex of a copy of the store builds, the tip is `expected`'s block at that
/// height, and no acknowledged block is missing. Returns the stored height.
fn check_store(
    dir: &Path,
    id: &str,
    acknowledged: u64,
    expected: &BTreeMap<u64, String>,
    kill: u64,
) -> u64 {
    let (digest, height, tip) = utxo_digest(dir, id);
    assert!(
        height >= acknowledged,
        "kill {kill}: node {id} acknowledged height {acknowledged} but stored {height}"
    );
    if let Some(want) = expected.get(&height) {
        assert_eq!(&tip, want, "kill {kill}: node {id}'s tip at {height}");
    }
    let copy = dir.join(format!("reindex_{kill}"));
    std::fs::create_dir_all(&copy).expect("copy dir");
    let db = format!("blockchain_{id}.db");
    std::fs::copy(dir.join(&db), copy.join(&db)).expect("copy the store");
    let out = ok(&copy, id, &["reindexutxo"]);
    assert!(out.starts_with("Done! There are "), "{out}");
    assert_eq!(
        utxo_digest(&copy, id),
        (digest, height, tip),
        "kill {kill}: node {id}'s stored UTXO set differs from a reindex of its chain"
    );
    std::fs::remove_dir_all(&copy).expect("remove the copy");
    height
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kill9s_during_imports_lose_nothing_acknowledged() {
    let kills = env_or("CRASH_KILLS", KILLS);
    let mut rng = SimRng::new(env_or("CRASH_SEED", 0xdead9));
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let a = new_address(dir, "3000");
    let payee = new_address(dir, "3001");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &a, "--bits", "8"],
    );
    ok(
        dir,
        "3000",
        &[
            "generate",
            "--address",
            &a,
            "--blocks",
            &(BLOCKS_PER_KILL * kills).to_string(),
        ],
    );
    let mut relay = NodeProc::start(dir, "3000", &[]).await;
    let mut chain = hashes_by_height(dir, "3000");
    let setup = started.elapsed();

    let mut report = Vec::new();
    let mut mid_import = 0;
    let mut downloaded = 0u64;
    for kill in 1..=kills {
        let delay = Duration::from_millis(rng.range(20, 600));
        let t0 = Instant::now();
        if kill % 4 == 0 {
            // Relay 3000 mines payments one by one; it is killed while it does.
            let before = relay.status().await.height;
            let acked = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let miner = {
                let (dir, a, payee) = (dir.to_path_buf(), a.clone(), payee.clone());
                let (acked, stop) = (acked.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let args = ["send", "--from", &a, "--to", &payee, "--amount", "1"];
                        let out = cli(&dir, "3000", &[&args[..], &["--mine"]].concat());
                        if !out.status.success() {
                            // The node died under the command: it says so, it does not
                            // run the payment a second time on the files. (A command that
                            // finds the node gone runs on the files, unless the dying
                            // process still holds them.)
                            let err = String::from_utf8_lossy(&out.stderr);
                            assert!(
                                err.contains("stopped before answering")
                                    || err.contains("in use by another process"),
                                "{err}"
                            );
                            return;
                        }
                        assert_eq!(String::from_utf8_lossy(&out.stdout), "Success!\n");
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            tokio::time::sleep(delay).await;
            stop.store(true, Ordering::SeqCst);
            relay.kill9();
            miner.join().expect("the payer thread");
            let acknowledged = before + acked.load(Ordering::SeqCst);
            let height = check_store(dir, "3000", acknowledged, &BTreeMap::new(), kill);
            // The command running at the kill may have committed or not; no more than it.
            assert!(
                height <= acknowledged + 1,
                "kill {kill}: stored {height}, acknowledged {acknowledged}"
            );
            mid_import += 1;
            report.push(format!(
                "kill {kill}: relay 3000 after {delay:?} of send --mine: {} acknowledged, \
                 height {before} -> {height}",
                acked.load(Ordering::SeqCst)
            ));
            relay = NodeProc::start(dir, "3000", &[]).await;
            chain = hashes_by_height(dir, "3000");
        } else {
            // Node 3001 downloads from relay 3000 and is killed on the way. Once it has
            // caught up, it starts over from nothing, so every kill lands mid-download
            // however fast this machine is.
            let top = *chain.keys().last().expect("a chain");
            if downloaded >= top {
                let _ = std::fs::remove_file(dir.join("blockchain_3001.db"));
            }
            let node = NodeProc::start(dir, "3001", &["--peer", &relay.ws_url()]).await;
            let first = node.status().await.height;
            let deadline = Instant::now() + delay;
            let mut acknowledged = first;
            while Instant::now() < deadline {
                if let Some(s) = try_status(node.addr).await {
                    acknowledged = acknowledged.max(s.height);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            node.kill9();
            let height = check_store(dir, "3001", acknowledged, &chain, kill);
            if height < top {
                mid_import += 1;
            }
            downloaded = height;
            report.push(format!(
                "kill {kill}: node 3001 after {delay:?} of download: height {first} -> \
                 {height} of {top} (acknowledged {acknowledged})"
            ));
        }
        report.push(format!("        round took {:?}", t0.elapsed()));
    }

    // Both restart from what they stored and end on one chain and one UTXO set.
    let node = NodeProc::start(dir, "3001", &["--peer", &relay.ws_url()]).await;
    let tip = relay.status().await.tip.expect("tip");
    node.wait_tip(&tip).await;
    node.stop();
    relay.stop();
    assert_eq!(utxo_digest(dir, "3000"), utxo_digest(dir, "3001"));
    for line in &report {
        eprintln!("{line}");
    }
    eprintln!(
        "{kills} kills ({mid_import} mid-import), node 3001 reached {downloaded} before the \
         last; setup {setup:?}, total {:?}",
        started.elapsed()
    );
    assert!(
        mid_import * 10 >= kills * 9,
        "most kills land mid-import: {mid_import} of {kills}"
    );
}
