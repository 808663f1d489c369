//! Runs a simulated network of real nodes until it is quiet and prints what happened.
//!
//! ```text
//! cargo run --release -p node-core --example simulate -- \
//!     --nodes 50 --miners 3 --txs 200 --drop 0.05 --latency-ms 40 --seed 7
//! ```
//! The last line is one JSON object: `converged`, `height`, `tips`, `txs_submitted`,
//! `txs_confirmed`, `txs_pending_everywhere`, `txs_lost`, `messages`, `sim_time_ms`.
//! `--replay-out FILE` also writes the run in the network lab's recording format: load it
//! in `/lab/` (Load…, then Replay) to watch it on the map.
//! `--drop P` is the share of frames whose packets are lost and sent again (TCP's
//! retransmission delays them); a tenth of that share also breaks the connection, which the
//! client redials.

use std::process::ExitCode;

use node_core::sim::replay::Recording;
use node_core::sim::{FundedNetwork, LinkConfig, NetworkPlan};
use node_core::KeyPair;
use rand_chacha::rand_core::SeedableRng;

struct Args {
    nodes: usize,
    miners: usize,
    txs: usize,
    drop: f64,
    latency_ms: u64,
    seed: u64,
    replay_out: Option<std::path::PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        nodes: 10,
        miners: 2,
        txs: 50,
        drop: 0.0,
        latency_ms: 20,
        seed: 1,
        replay_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--nodes" => a.nodes = value.parse().map_err(|e| bad(&e))?,
            "--miners" => a.miners = value.parse().map_err(|e| bad(&e))?,
            "--txs" => a.txs = value.parse().map_err(|e| bad(&e))?,
            "--drop" => a.drop = value.parse().map_err(|e| bad(&e))?,
            "--latency-ms" => a.latency_ms = value.parse().map_err(|e| bad(&e))?,
            "--seed" => a.seed = value.parse().map_err(|e| bad(&e))?,
            "--replay-out" => a.replay_out = Some(value.into()),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.nodes < 2 {
        return Err("--nodes must be at least 2 (a relay and a client)".into());
    }
    if !(0.0..=0.5).contains(&a.drop) {
        return Err("--drop must be between 0 and 0.5".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "usage: simulate [--nodes N] [--miners M] [--txs T] [--drop P] [--latency-ms L] [--seed S] [--replay-out FILE]"
            );
            return ExitCode::from(2);
        }
    };
    let relays = if args.nodes >= 16 { 3 } else { 1 };
    let clients = args.nodes - relays;
    let miners = args.miners.min(clients);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(args.seed);
    let faucet = KeyPair::generate(&mut rng);
    let keys: Vec<KeyPair> = (0..clients).map(|_| KeyPair::generate(&mut rng)).collect();
    let drop = (args.drop * 1_000_000.0) as u32;
    let links = LinkConfig {
        latency_min_ms: args.latency_ms / 2,
        latency_max_ms: args.latency_ms + args.latency_ms / 2,
        drop_per_million: drop,
        reset_per_million: drop / 10,
        retransmit_ms: 200,
        reconnect_ms: 500,
    };
    let rounds = (args.txs / clients.max(1) + 2).min(20);
    let started = std::time::Instant::now();
    let plan = NetworkPlan {
        seed: args.seed,
        links,
        relays,
        miners,
        rounds,
        bits: 8,
    };
    let net = match FundedNetwork::build(&plan, &faucet, &keys) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut sim, client_nodes) = (net.sim, net.clients);
    // No node restarts here: a second copy of every node's chain would only cost memory.
    sim.discard_stores();
    if args.replay_out.is_some() {
        match Recording::new(sim.now, &client_nodes) {
            Ok(r) => sim.replay = Some(r),
            Err(e) => {
                eprintln!("error: --replay-out: {e}");
                return ExitCode::from(2);
            }
        }
    }
    sim.watch = std::env::var("WATCH").ok();
    sim.trace = std::env::var("TRACE").ok().and_then(|t| t.parse().ok());
    let start = sim.now;
    let built = started.elapsed();
    let synced = sim.run_until_quiet(3_600_000);
    let sync_done = started.elapsed();
    eprintln!(
        "initial sync {}",
        if synced { "settled" } else { "did not settle" }
    );
    let sync_peak = peak_resident_kb();
    for (i, &m) in client_nodes.iter().take(miners).enumerate() {
        let to = KeyPair::generate(&mut rng).pubkey_hash();
        let _ = i;
        sim.with_node(m, |n, now| n.start_mining(now, to));
    }
    let submitted = sim.pay_randomly(&client_nodes, &keys, args.txs, 20);
    let quiet = sim.run_until_quiet(3_600_000);
    let payments_done = started.elapsed();
    let report = sim.tx_report(&submitted);
    let converged = quiet && sim.converged();
    let height = sim
        .nodes
        .iter()
        .filter_map(|n| n.node.chain().map(|c| c.height()))
        .max()
        .unwrap_or(0);
    let checks = node_core::primitives::signature_memo::counts_on_this_thread();
    let out = serde_json::json!({
        "converged": converged,
        "height": height,
        "tips": sim.distinct_tips(),
        "txs_submitted": submitted.len(),
        "txs_confirmed": report.confirmed,
        "txs_pending_everywhere": report.pending_everywhere,
        "txs_lost": report.lost,
        "messages": sim.frames_delivered,
        "sim_time_ms": sim.now - start,
        "signature_checks_asked": checks.asked,
        "signature_checks_computed": checks.computed,
    });
    eprintln!("frames by command: {:?}", sim.frames_by_command);
    // Wall time and memory by phase (stderr: the JSON line stays the same for a seed).
    let peak = |kb: Option<u64>| kb.map_or_else(|| "?".into(), |kb| format!("{} MB", kb / 1024));
    eprintln!(
        "wall time: build {:.1} s, initial sync {:.1} s (peak RSS then {}), payments until quiet {:.1} s (peak RSS {})",
        built.as_secs_f64(),
        (sync_done - built).as_secs_f64(),
        peak(sync_peak),
        (payments_done - sync_done).as_secs_f64(),
        peak(peak_resident_kb()),
    );
    if let Some(id) = report.first_lost {
        eprintln!("first lost transaction: {id} (rerun with WATCH=<its first hex digits>)");
        let holders: Vec<usize> = (0..sim.nodes.len())
            .filter(|i| sim.nodes[*i].node.mempool().contains(&id))
            .collect();
        eprintln!("  in the mempools of nodes {holders:?}");
    }
    if std::env::var("DEBUG_TIPS").is_ok() {
        let mut tips = std::collections::BTreeMap::new();
        for (i, n) in sim.nodes.iter().enumerate() {
            let t = n.node.chain().map(|c| (c.height(), c.tip()));
            tips.entry(t).or_insert_with(Vec::new).push(i);
        }
        for (t, nodes) in &tips {
            eprintln!("tip {t:?}: nodes {nodes:?}");
        }
        for (_, nodes) in tips.iter().filter(|(_, v)| v.len() < 3) {
            for &i in nodes {
                let n = &sim.nodes[i].node;
                eprintln!(
                    "node {i}: {:?}\n  peers {:?}\n  disconnects {:?}",
                    n.status(),
                    n.peers(),
                    sim.nodes[i]
                        .disconnects
                        .iter()
                        .rev()
                        .take(5)
                        .collect::<Vec<_>>()
                );
            }
        }
    }
    for line in &sim.log {
        eprintln!("{line}");
    }
    if let (Some(path), Some(rec)) = (&args.replay_out, &sim.replay) {
        if rec.full {
            eprintln!(
                "the recording stopped at {} events, as many as the lab loads",
                rec.events.len()
            );
        }
        if let Err(e) = std::fs::write(path, rec.to_json()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!(
            "wrote {} events of {} nodes to {}",
            rec.events.len(),
            client_nodes.len(),
            path.display()
        );
    }
    println!("{out}");
    let ok = converged && report.lost == 0;
    // Freeing a thousand nodes' maps one by one took a twentieth of the run; the process
    // ends here and the system takes its memory back at once.
    std::mem::forget(sim);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The process's peak resident memory so far in KB (Linux's `VmHWM`), when the system says.
fn peak_resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
