//! A native load generator for the relay: many WebSocket peers speaking the node protocol
//! against a real `relay-server startnode` on loopback. One JSON line per measurement.
//!
//! ```text
//! loadgen prepare --data-dir DIR [--node-id 3000] [--coins 20000] [--bits 8]
//! loadgen fanout  --relay 127.0.0.1:PORT [--pid PID] [--relay-log FILE] [--peers 1000] [--rounds 5]
//! loadgen idle    --relay 127.0.0.1:PORT --pid PID [--peers 10000] [--steps 1000,2500,5000,10000]
//! loadgen ingest  --relay 127.0.0.1:PORT --pid PID --data-dir DIR [--txs 20000] [--pushers 4]
//! common: [--quiet-wait SECS (180)] [--client-read-buffer BYTES (4096)] [--same-node-id]
//! ```
//!
//! - `prepare` writes a relay data directory: a chain (PoW bits 8) whose coins, split into
//!   `--coins` outputs of value 1, all pay one key; that key is written as the node's wallet
//!   (`wallet_<ID>.dat`, so the relay's own `send --mine` works too) and the outputs to
//!   `loadgen_coins.txt`.
//! - `fanout` connects `--peers` handshaken peers plus a miner peer; each round the miner
//!   mines a block on the relay's tip, announces it with `inv`, answers the relay's `getdata`
//!   with the block, and every peer notes when the relay's `inv` for it arrives.
//! - `idle` connects peers in steps and reads the relay's VmRSS after each step.
//! - `ingest` pushes pre-signed one-input transactions from `--pushers` peers and counts the
//!   relay's `inv` echoes on a separate listening peer; in the same run it measures bare
//!   `node_core::primitives::keys::verify` throughput on 1 and on all cores.
//!
//! On a shared machine the timings are another job's as much as the relay's, so before each
//! timed part the load generator waits (up to `--quiet-wait` s) until processes other than
//! the relay and itself use under 0.2 of a core, and reports what they used.
//!
//! Every loop is bounded in count and time, and the only traffic is to `--relay`, which must
//! be a loopback address.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use node_core::chain::mine_genesis;
use node_core::consensus::params::ChainParams;
use node_core::primitives::hash::Hash256;
use node_core::protocol::{
    decode_frame, encode_frame, InvItem, Message, Role, Version, MAX_FRAME_SIZE, PROTOCOL_VERSION,
};
use node_core::{
    consensus::pow, Block, BlockHash, Chain, KeyPair, OutPoint, Transaction, TxOut, Txid,
};
use rand_core::{OsRng, RngCore};
use relay_server::commands::wallet_file::Wallet;
use relay_server::paths::DataPaths;
use relay_server::store::Store;
use relay_server::{hub::StatusReport, util::now_ms};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The file `prepare` lists the spendable outputs in.
const COINS_FILE: &str = "loadgen_coins.txt";
/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 128;
/// Longest a connection and its handshake may take.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(60);
/// Longest one step of connecting peers may take, all of them together.
const GROW_DEADLINE: Duration = Duration::from_secs(300);

// ----- arguments --------------------------------------------------------------------------

fn arg(name: &str) -> Option<String> {
    let mut it = std::env::args().skip(2);
    while let Some(a) = it.next() {
        if a == name {
            return it.next();
        }
    }
    None
}

fn flag(name: &str) -> bool {
    std::env::args().skip(2).any(|a| a == name)
}

fn num(name: &str, default: u64) -> Result<u64, String> {
    match arg(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} expects a number, got {v:?}")),
    }
}

fn relay_addr() -> Result<SocketAddr, String> {
    let a = arg("--relay").ok_or("--relay 127.0.0.1:PORT is required")?;
    let addr: SocketAddr = a
        .parse()
        .map_err(|_| format!("--relay expects IP:PORT, got {a:?}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("--relay must be a loopback address, got {addr}"));
    }
    Ok(addr)
}

fn pid_arg() -> Result<u32, String> {
    match num("--pid", 0)? as u32 {
        0 => Err("--pid PID of the relay is required".to_string()),
        p => Ok(p),
    }
}

const USAGE: &str = "usage:
  loadgen prepare --data-dir DIR [--node-id 3000] [--coins 20000] [--bits 8]
  loadgen fanout  --relay 127.0.0.1:PORT [--pid PID] [--relay-log FILE] [--peers 1000] [--rounds 5]
  loadgen idle    --relay 127.0.0.1:PORT --pid PID [--peers 10000] [--steps 1000,2500,5000,10000]
  loadgen ingest  --relay 127.0.0.1:PORT --pid PID --data-dir DIR [--node-id 3000] [--txs 20000] [--pushers 4]
  common: [--quiet-wait SECS (180)] [--client-read-buffer BYTES (4096)] [--same-node-id]";

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    match num("--client-read-buffer", 4096) {
        Ok(n) => {
            let _ = CLIENT_READ_BUFFER.set((n as usize).max(256));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let result = if command == "prepare" {
        prepare()
    } else {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let r = runtime.block_on(async {
            match command.as_str() {
                "fanout" => fanout().await,
                "idle" => idle().await,
                "ingest" => ingest().await,
                _ => Err(USAGE.to_string()),
            }
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
        r
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ----- /proc ------------------------------------------------------------------------------

/// VmRSS of a process in kB.
fn rss_kb(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process, in seconds (clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_secs(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// CPU time all processes of the machine spent busy (not idle, not waiting for I/O), in
/// seconds, from the first line of /proc/stat.
fn machine_busy_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        return None;
    }
    let total: u64 = v.iter().sum();
    Some((total - v[3] - v[4]) as f64 / 100.0)
}

/// The 1-minute load average.
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU used by everything but the relay and this process between two samples.
struct CpuWindow {
    relay: String,
    relay0: f64,
    self0: f64,
    machine0: f64,
    wall0: Instant,
}

impl CpuWindow {
    fn start(relay_pid: &str) -> Self {
        CpuWindow {
            relay: relay_pid.to_string(),
            relay0: cpu_secs(relay_pid).unwrap_or(f64::NAN),
            self0: cpu_secs("self").unwrap_or(f64::NAN),
            machine0: machine_busy_secs().unwrap_or(f64::NAN),
            wall0: Instant::now(),
        }
    }

    fn report(&self) -> serde_json::Value {
        let relay = cpu_secs(&self.relay).unwrap_or(f64::NAN) - self.relay0;
        let me = cpu_secs("self").unwrap_or(f64::NAN) - self.self0;
        let machine = machine_busy_secs().unwrap_or(f64::NAN) - self.machine0;
        let wall = self.wall0.elapsed().as_secs_f64();
        json!({
            "wall_s": round3(wall),
            "relay_cpu_s": round3(relay),
            "loadgen_cpu_s": round3(me),
            "other_processes_cpu_s": round3((machine - relay - me).max(0.0)),
            "loadavg_1m": loadavg(),
        })
    }
}

/// Waits (at most `--quiet-wait` seconds, default 180) until processes other than the relay
/// and this one use less than 0.2 of a core over one second, so timings are not another
/// job's. Returns the cores those others used in the last second sampled.
async fn wait_quiet(relay_pid: Option<&str>, what: &str) -> f64 {
    let limit = Duration::from_secs(num("--quiet-wait", 180).unwrap_or(180));
    let start = Instant::now();
    loop {
        let sample = |p: Option<&str>| p.and_then(cpu_secs).unwrap_or(0.0);
        let (m0, r0, s0) = (
            machine_busy_secs().unwrap_or(0.0),
            sample(relay_pid),
            sample(Some("self")),
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let others = (machine_busy_secs().unwrap_or(0.0) - m0)
            - (sample(relay_pid) - r0)
            - (sample(Some("self")) - s0);
        if others < 0.2 || start.elapsed() >= limit {
            if others >= 0.2 {
                eprintln!("{what}: the machine is still busy ({others:.2} cores used by other processes); measuring anyway");
            }
            return round3(others.max(0.0));
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1000.0)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ----- prepare ----------------------------------------------------------------------------

fn prepare() -> Result<(), String> {
    let dir = PathBuf::from(arg("--data-dir").ok_or("--data-dir DIR is required")?);
    let node_id = arg("--node-id").unwrap_or_else(|| "3000".into());
    let coins_wanted = num("--coins", 20_000)?.max(1);
    let bits = num("--bits", 8)? as u32;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let paths = DataPaths::new(Some(dir.clone()), node_id);
    let store = Store::create(&paths.chain_db()).map_err(|e| e.to_string())?;
    if paths.wallet().exists() {
        return Err(format!("{} exists already", paths.wallet().display()));
    }

    let key = KeyPair::generate(&mut OsRng);
    let owner = key.pubkey_hash();
    let params = ChainParams::default();
    let subsidy = params.subsidy;
    // Coinbases of `subsidy` each, then one split transaction per block turning up to 100 of
    // them into outputs of 1.
    let coinbase_blocks = coins_wanted.div_ceil(subsidy);
    let split_blocks = coinbase_blocks.div_ceil(100);
    let total_blocks = coinbase_blocks + split_blocks;
    // Timestamps 1 s apart ending a minute ago, so a block mined now is after them all.
    let mut now = now_ms() - (total_blocks + 60) * 1_000;
    let genesis = mine_genesis(owner, subsidy, now, bits, b"relay load generator");
    let mut chain = Chain::new(params, genesis, now).map_err(|e| e.to_string())?;
    let mut big: std::collections::VecDeque<OutPoint> = std::collections::VecDeque::new();
    let mut small: Vec<OutPoint> = Vec::new();
    let mut batch = vec![chain.take_changes()];
    let mut accept =
        |chain: &mut Chain, txs: Vec<Transaction>, now: u64| -> Result<Block, String> {
            let mut block = chain.template(owner, txs, 0, now, b"");
            pow::mine(&mut block.header);
            chain
                .accept_block(block.clone(), now)
                .map_err(|e| format!("block refused: {e}"))?;
            batch.push(chain.take_changes());
            if batch.len() >= 500 {
                store.apply(&batch).map_err(|e| e.to_string())?;
                batch.clear();
            }
            Ok(block)
        };
    for _ in 0..coinbase_blocks {
        now += 1_000;
        let block = accept(&mut chain, vec![], now)?;
        big.push_back(OutPoint {
            txid: block.transactions[0].txid(),
            vout: 0,
        });
    }
    while (small.len() as u64) < coins_wanted && !big.is_empty() {
        now += 1_000;
        let take = big.len().min(100);
        let inputs: Vec<OutPoint> = big.drain(..take).collect();
        let outputs = vec![
            TxOut {
                value: 1,
                pubkey_hash: owner,
            };
            take * subsidy as usize
        ];
        let tx = Transaction::new_signed(&key, &inputs, outputs);
        let txid = tx.txid();
        let n = tx.outputs.len() as u32;
        accept(&mut chain, vec![tx], now)?;
        small.extend((0..n).map(|vout| OutPoint { txid, vout }));
    }
    if !batch.is_empty() {
        store.apply(&batch).map_err(|e| e.to_string())?;
    }
    drop(store);

    // The wallet file in the relay's own format, so `relay-server send --mine` can use it.
    let mut text = String::from("# blockchain wallet v1: one P-256 secret key per line, hex\n");
    text.push_str(&Hash256(key.secret_bytes()).to_string());
    text.push('\n');
    write_private(&paths.wallet(), &text)?;
    let mut coins = String::with_capacity(small.len() * 70);
    for op in small.iter().take(coins_wanted as usize) {
        coins.push_str(&format!("{} {}\n", op.txid, op.vout));
    }
    let coins_path = dir.join(COINS_FILE);
    std::fs::write(&coins_path, coins).map_err(|e| format!("{}: {e}", coins_path.display()))?;
    println!(
        "{}",
        json!({
            "measurement": "prepare",
            "data_dir": dir.display().to_string(),
            "height": chain.height(),
            "tip": chain.tip().to_string(),
            "genesis": chain.genesis_hash().to_string(),
            "bits": bits,
            "address": key.address().to_string(),
            "coins_of_1": small.len().min(coins_wanted as usize),
        })
    );
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

// ----- peers ------------------------------------------------------------------------------

/// The load generator's own WebSocket read buffer (`--client-read-buffer`).
static CLIENT_READ_BUFFER: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn ws_config() -> WebSocketConfig {
    // A small read buffer by default: tungstenite's default (128 KiB) is zero-filled on the
    // first read, so at 10,000 peers the load generator, not the relay, would be the memory
    // hog. `--client-read-buffer 131072` restores the default, for comparison.
    WebSocketConfig::default()
        .read_buffer_size(*CLIENT_READ_BUFFER.get().unwrap_or(&4096))
        .max_message_size(Some(MAX_FRAME_SIZE))
        .max_frame_size(Some(MAX_FRAME_SIZE))
}

fn frame(m: &Message) -> WsMessage {
    WsMessage::Binary(encode_frame(m).into())
}

async fn status(addr: SocketAddr) -> Result<StatusReport, String> {
    let res = tokio::time::timeout(
        Duration::from_secs(30),
        relay_server::cli::http_client::get(addr, "/status"),
    )
    .await
    .map_err(|_| "GET /status timed out".to_string())?
    .map_err(|e| format!("GET /status: {e}"))?;
    serde_json::from_slice(&res.body).map_err(|e| format!("GET /status: {e}"))
}

fn parse_block_hash(s: Option<&String>, what: &str) -> Result<BlockHash, String> {
    s.and_then(|h| BlockHash::from_hex(h))
        .ok_or_else(|| format!("the relay reports no {what}"))
}

/// Waits until the relay counts `want` handshaken peers (at most `limit`).
async fn wait_peers(addr: SocketAddr, want: usize, limit: Duration) -> Result<usize, String> {
    let start = Instant::now();
    loop {
        let s = status(addr).await?;
        if s.peers >= want || start.elapsed() > limit {
            return Ok(s.peers);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Dials the relay and completes the handshake: our `version` naming its genesis, its
/// `version` answered with `verack`, its `verack`.
async fn open_peer(
    addr: SocketAddr,
    genesis: BlockHash,
    node_id: String,
    role: Role,
) -> Result<Ws, String> {
    let url = format!("ws://{addr}/ws");
    let exchange = async {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(ws_config()), true)
                .await
                .map_err(|e| format!("connect: {e}"))?;
        let version = Version {
            protocol: PROTOCOL_VERSION,
            genesis,
            best_height: 0,
            tip: genesis,
            chain_work: 0,
            node_id,
            role,
            listen_url: None,
            nonce: OsRng.next_u64(),
            user_agent: "relay-loadgen/0.1".into(),
        };
        ws.send(frame(&Message::Version(version)))
            .await
            .map_err(|e| format!("send version: {e}"))?;
        let (mut got_version, mut got_verack) = (false, false);
        while !(got_version && got_verack) {
            let m = ws
                .next()
                .await
                .ok_or("closed during the handshake")?
                .map_err(|e| format!("handshake: {e}"))?;
            match m {
                WsMessage::Binary(b) => match decode_frame(&b) {
                    Ok(Message::Version(_)) => {
                        got_version = true;
                        ws.send(frame(&Message::Verack))
                            .await
                            .map_err(|e| format!("send verack: {e}"))?;
                    }
                    Ok(Message::Verack) => got_verack = true,
                    Ok(Message::Ping(n)) => {
                        let _ = ws.send(frame(&Message::Pong(n))).await;
                    }
                    _ => {}
                },
                WsMessage::Close(f) => {
                    return Err(format!(
                        "closed during the handshake: {}",
                        f.map(|f| f.reason.to_string()).unwrap_or_default()
                    ))
                }
                _ => {}
            }
        }
        Ok(ws)
    };
    tokio::time::timeout(HANDSHAKE_DEADLINE, exchange)
        .await
        .map_err(|_| "handshake timed out".to_string())?
}

/// What the swarm's peers report.
enum PeerEvent {
    /// An `inv` naming a block, and when it was read.
    BlockInv {
        peer: usize,
        hash: BlockHash,
        at: Instant,
    },
    /// An `inv` naming transactions.
    TxInv { txids: Vec<Txid>, at: Instant },
    /// The connection ended.
    Down { peer: usize, reason: String },
}

/// Reads one peer's connection until told to stop: answers pings, reports invs.
async fn peer_loop(
    peer: usize,
    mut ws: Ws,
    events: mpsc::UnboundedSender<PeerEvent>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            m = ws.next() => {
                let at = Instant::now();
                let down = |reason: String| PeerEvent::Down { peer, reason };
                match m {
                    Some(Ok(WsMessage::Binary(b))) => match decode_frame(&b) {
                        Ok(Message::Inv(items)) => {
                            let mut txids = Vec::new();
                            for item in items {
                                match item {
                                    InvItem::Block(hash) => {
                                        let _ = events.send(PeerEvent::BlockInv { peer, hash, at });
                                    }
                                    InvItem::Tx(t) => txids.push(t),
                                }
                            }
                            if !txids.is_empty() {
                                let _ = events.send(PeerEvent::TxInv { txids, at });
                            }
                        }
                        Ok(Message::Ping(n)) => {
                            if let Err(e) = ws.send(frame(&Message::Pong(n))).await {
                                let _ = events.send(down(format!("send pong: {e}")));
                                return;
                            }
                        }
                        _ => {}
                    },
                    Some(Ok(WsMessage::Close(f))) => {
                        let why = f.map(|f| f.reason.to_string()).unwrap_or_default();
                        let _ = events.send(down(format!("closed by the relay: {why}")));
                        return;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        let _ = events.send(down(e.to_string()));
                        return;
                    }
                    None => {
                        let _ = events.send(down("connection lost".into()));
                        return;
                    }
                }
            }
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                return;
            }
        }
    }
}

/// A crowd of handshaken peers, each read by its own task.
struct Swarm {
    addr: SocketAddr,
    genesis: BlockHash,
    same_node_id: bool,
    events_tx: mpsc::UnboundedSender<PeerEvent>,
    events: mpsc::UnboundedReceiver<PeerEvent>,
    stop_tx: watch::Sender<bool>,
    connected: usize,
    failures: Vec<String>,
    down: HashMap<usize, String>,
}

impl Swarm {
    fn new(addr: SocketAddr, genesis: BlockHash, same_node_id: bool) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop_tx, _) = watch::channel(false);
        Swarm {
            addr,
            genesis,
            same_node_id,
            events_tx,
            events,
            stop_tx,
            connected: 0,
            failures: Vec::new(),
            down: HashMap::new(),
        }
    }

    /// Opens peers until `total` are up (or failed); returns how long it took.
    async fn grow_to(&mut self, total: usize) -> Duration {
        let start = Instant::now();
        let first = self.connected + self.failures.len();
        if total <= first {
            return start.elapsed();
        }
        let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        for i in first..total {
            let gate = gate.clone();
            let done = done_tx.clone();
            let events = self.events_tx.clone();
            let stop = self.stop_tx.subscribe();
            let (addr, genesis) = (self.addr, self.genesis);
            // Tabs pick their own node ids; --same-node-id makes every peer the same node.
            let node_id = if self.same_node_id {
                "loadgen".to_string()
            } else {
                format!("lg-{i}")
            };
            tokio::spawn(async move {
                let permit = gate.acquire_owned().await;
                let opened = open_peer(addr, genesis, node_id, Role::Wallet).await;
                drop(permit);
                match opened {
                    Ok(ws) => {
                        let _ = done.send(Ok(()));
                        peer_loop(i, ws, events, stop).await;
                    }
                    Err(e) => {
                        let _ = done.send(Err(e));
                    }
                }
            });
        }
        drop(done_tx);
        let deadline = tokio::time::Instant::now() + GROW_DEADLINE;
        for _ in first..total {
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some(Ok(()))) => self.connected += 1,
                Ok(Some(Err(e))) => self.failures.push(e),
                Ok(None) => break,
                Err(_) => {
                    let pending = total - self.connected - self.failures.len();
                    let what = format!("not connected within {} s", GROW_DEADLINE.as_secs());
                    self.failures.extend((0..pending).map(|_| what.clone()));
                    break;
                }
            }
        }
        start.elapsed()
    }

    /// Takes the events reported so far, keeping track of dropped peers.
    fn drain(&mut self) -> Vec<PeerEvent> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            match e {
                PeerEvent::Down { peer, reason } => {
                    self.down.insert(peer, reason);
                }
                other => out.push(other),
            }
        }
        out
    }

    fn failure_summary(&self) -> serde_json::Value {
        let mut kinds: HashMap<String, usize> = HashMap::new();
        for f in self.failures.iter().chain(self.down.values()) {
            let k: String = f.chars().take(80).collect();
            *kinds.entry(k).or_default() += 1;
        }
        json!(kinds)
    }

    async fn stop(&self) {
        let _ = self.stop_tx.send(true);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// ----- fan-out ----------------------------------------------------------------------------

/// The miner peer, read by its own task so that it answers the relay's pings however long
/// the main task waits between rounds.
struct MinerLink {
    out: mpsc::UnboundedSender<WsMessage>,
    inbox: mpsc::UnboundedReceiver<Result<Message, String>>,
}

impl MinerLink {
    fn spawn(mut ws: Ws) -> Self {
        let (out, mut out_rx) = mpsc::unbounded_channel::<WsMessage>();
        let (in_tx, inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    m = ws.next() => match m {
                        Some(Ok(WsMessage::Binary(b))) => match decode_frame(&b) {
                            Ok(Message::Ping(n)) => {
                                if let Err(e) = ws.send(frame(&Message::Pong(n))).await {
                                    let _ = in_tx.send(Err(format!("miner: {e}")));
                                    return;
                                }
                            }
                            Ok(m @ (Message::GetData(_) | Message::Block(_) | Message::Reject { .. })) => {
                                let _ = in_tx.send(Ok(m));
                            }
                            _ => {}
                        },
                        Some(Ok(WsMessage::Close(f))) => {
                            let why = f.map(|f| f.reason.to_string()).unwrap_or_default();
                            let _ = in_tx.send(Err(format!("miner closed by the relay: {why}")));
                            return;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            let _ = in_tx.send(Err(format!("miner: {e}")));
                            return;
                        }
                        None => {
                            let _ = in_tx.send(Err("miner connection lost".into()));
                            return;
                        }
                    },
                    o = out_rx.recv() => match o {
                        Some(f) => {
                            if let Err(e) = ws.send(f).await {
                                let _ = in_tx.send(Err(format!("miner: {e}")));
                                return;
                            }
                        }
                        None => {
                            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                            return;
                        }
                    },
                }
            }
        });
        MinerLink { out, inbox }
    }

    fn send(&self, m: &Message) -> Result<(), String> {
        self.out
            .send(frame(m))
            .map_err(|_| "miner task ended".to_string())
    }

    /// Waits until `want` accepts a message from the relay; a `reject` fails. Bounded.
    async fn wait<T>(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(Message) -> Option<T>,
    ) -> Result<T, String> {
        let wait = async {
            loop {
                match self.inbox.recv().await {
                    Some(Ok(Message::Reject { reason, .. })) => {
                        return Err(format!("the relay rejected the miner's block: {reason}"))
                    }
                    Some(Ok(m)) => {
                        if let Some(t) = want(m) {
                            return Ok(t);
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Err("miner task ended".into()),
                }
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| "miner: the relay did not answer in time".to_string())?
    }
}

/// Milliseconds from `since` to the relay's log line naming `hash` and `what` (tracing's
/// default format: an RFC 3339 UTC timestamp with microseconds first), by time of day.
fn logged_after(
    log: &Path,
    hash: &BlockHash,
    what: &str,
    since: std::time::SystemTime,
) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let h = hash.to_string();
    let line = text.lines().find(|l| l.contains(&h) && l.contains(what))?;
    // 2025-01-01T12:34:56.123456Z
    let t = line.split_whitespace().next()?;
    let clock = t.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = clock.split(':');
    let hh: f64 = parts.next()?.parse().ok()?;
    let mm: f64 = parts.next()?.parse().ok()?;
    let ss: f64 = parts.next()?.parse().ok()?;
    let logged = hh * 3600.0 + mm * 60.0 + ss;
    let since = since
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64()
        % 86_400.0;
    Some(round3((logged - since) * 1000.0))
}

fn summary(sorted: &[f64]) -> serde_json::Value {
    json!({
        "p50_ms": percentile(sorted, 50.0),
        "p90_ms": percentile(sorted, 90.0),
        "p99_ms": percentile(sorted, 99.0),
        "max_ms": sorted.last().copied().unwrap_or(f64::NAN),
        "min_ms": sorted.first().copied().unwrap_or(f64::NAN),
    })
}

async fn fanout() -> Result<(), String> {
    let addr = relay_addr()?;
    let peers = num("--peers", 1_000)? as usize;
    let rounds = num("--rounds", 5)?.clamp(1, 100);
    let s = status(addr).await?;
    let genesis = parse_block_hash(s.genesis.as_ref(), "genesis")?;
    let tip = parse_block_hash(s.tip.as_ref(), "tip")?;

    // The miner: fetch the tip block to build on.
    let ws = open_peer(addr, genesis, "lg-miner".into(), Role::Miner).await?;
    let mut miner = MinerLink::spawn(ws);
    miner.send(&Message::GetData(vec![InvItem::Block(tip)]))?;
    let mut parent = miner
        .wait(Duration::from_secs(10), |m| match m {
            Message::Block(b) if b.hash() == tip => Some(b),
            _ => None,
        })
        .await?;

    let mut swarm = Swarm::new(addr, genesis, flag("--same-node-id"));
    let connect_time = swarm.grow_to(peers).await;
    let counted = wait_peers(addr, swarm.connected + 1, Duration::from_secs(30)).await?;
    eprintln!(
        "fanout: {} peers up in {:.1} s ({} failed); relay counts {counted} (with the miner)",
        swarm.connected,
        connect_time.as_secs_f64(),
        swarm.failures.len()
    );
    // Let the connection storm (addr broadcasts) settle before the first round.
    tokio::time::sleep(Duration::from_secs(2)).await;
    swarm.drain();

    let payee = KeyPair::generate(&mut OsRng).pubkey_hash();
    let subsidy = ChainParams::default().subsidy;
    let window = arg("--pid").map(|p| CpuWindow::start(&p));
    let relay_log = arg("--relay-log").map(PathBuf::from);
    let mut pooled = Vec::new();
    let mut pooled_from_block = Vec::new();
    let mut round_p99 = Vec::new();
    for round in 0..rounds {
        let height = parent.coinbase_height().unwrap_or(0) + 1;
        let ts = now_ms().max(parent.header.timestamp + 1);
        let data = format!("loadgen fan-out round {round}");
        let coinbase = Transaction::new_coinbase(height, payee, subsidy, data.as_bytes());
        let mut block = Block::new_template(parent.hash(), ts, parent.header.bits, vec![coinbase]);
        pow::mine(&mut block.header);
        let hash = block.hash();
        let others_before = wait_quiet(window.as_ref().map(|w| w.relay.as_str()), "fanout").await;
        swarm.drain();
        let up = swarm.connected - swarm.down.len();
        let trigger_wall = std::time::SystemTime::now();

        // The trigger: the miner announces its block as a node does, inv first.
        let t0 = Instant::now();
        miner.send(&Message::Inv(vec![InvItem::Block(hash)]))?;
        miner
            .wait(Duration::from_secs(10), |m| match m {
                Message::GetData(items) if items.contains(&InvItem::Block(hash)) => Some(()),
                _ => None,
            })
            .await?;
        let t1 = Instant::now();
        miner.send(&Message::Block(block.clone()))?;

        let mut got: HashMap<usize, Instant> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while got.len() < up {
            match tokio::time::timeout_at(deadline, swarm.events.recv()).await {
                Ok(Some(PeerEvent::BlockInv { peer, hash: h, at })) if h == hash => {
                    got.entry(peer).or_insert(at);
                }
                Ok(Some(PeerEvent::Down { peer, reason })) => {
                    swarm.down.insert(peer, reason);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let mut lat: Vec<f64> = got.values().map(|at| ms(at.duration_since(t0))).collect();
        lat.sort_by(f64::total_cmp);
        let mut from_block: Vec<f64> = got
            .values()
            .map(|at| ms(at.saturating_duration_since(t1)))
            .collect();
        from_block.sort_by(f64::total_cmp);
        round_p99.push(percentile(&lat, 99.0));
        println!(
            "{}",
            json!({
                "measurement": "fanout_round",
                "round": round + 1,
                "block": hash.to_string(),
                "height": height,
                "peers_up": up,
                "peers_reached": got.len(),
                "getdata_rtt_ms": ms(t1.duration_since(t0)),
                "relay_logged_block_connected_ms": relay_log.as_deref().and_then(|p| logged_after(p, &hash, "block connected", trigger_wall)),
                "other_processes_cores_before": others_before,
                "loadavg_1m": loadavg(),
                "from_inv_trigger": summary(&lat),
                "from_block_sent": summary(&from_block),
            })
        );
        pooled.extend(lat);
        pooled_from_block.extend(from_block);
        parent = block;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    pooled.sort_by(f64::total_cmp);
    pooled_from_block.sort_by(f64::total_cmp);
    round_p99.sort_by(f64::total_cmp);
    swarm.drain();
    println!(
        "{}",
        json!({
            "measurement": "fanout",
            "peers": peers,
            "connected": swarm.connected,
            "dropped": swarm.down.len(),
            "failures": swarm.failure_summary(),
            "connect_s": round3(connect_time.as_secs_f64()),
            "rounds": rounds,
            "pooled_from_inv_trigger": summary(&pooled),
            "pooled_from_block_sent": summary(&pooled_from_block),
            "worst_round_p99_ms": round_p99.last().copied().unwrap_or(f64::NAN),
            "cpu_during_rounds": window.map(|w| w.report()),
            "target_p99_ms": 50,
        })
    );
    swarm.stop().await;
    drop(miner);
    Ok(())
}

// ----- idle memory ------------------------------------------------------------------------

async fn idle() -> Result<(), String> {
    let addr = relay_addr()?;
    let pid = pid_arg()?.to_string();
    let peers = num("--peers", 10_000)? as usize;
    let mut steps: Vec<usize> = match arg("--steps") {
        Some(s) => s
            .split(',')
            .map(|v| v.trim().parse().map_err(|_| format!("bad --steps {s:?}")))
            .collect::<Result<_, _>>()?,
        None => vec![1_000, 2_500, 5_000, 7_500, 10_000],
    };
    steps.retain(|s| *s < peers);
    steps.push(peers);
    let s = status(addr).await?;
    let genesis = parse_block_hash(s.genesis.as_ref(), "genesis")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss0 = rss_kb(&pid).ok_or("cannot read the relay's VmRSS")?;
    let self_rss0 = rss_kb("self").unwrap_or(0);
    let mut swarm = Swarm::new(addr, genesis, flag("--same-node-id"));
    let mut points = Vec::new();
    let mut last = (0usize, rss0);
    for step in steps {
        let took = swarm.grow_to(step).await;
        let counted = wait_peers(addr, swarm.connected, Duration::from_secs(60)).await?;
        // Settle: broadcasts of the new peers' addresses drain, the tick runs.
        tokio::time::sleep(Duration::from_secs(3)).await;
        swarm.drain();
        let rss = rss_kb(&pid).ok_or("cannot read the relay's VmRSS")?;
        let added = swarm.connected.saturating_sub(last.0);
        let per_peer_step = if added > 0 {
            (rss.saturating_sub(last.1)) as f64 / added as f64
        } else {
            f64::NAN
        };
        eprintln!(
            "idle: {} up ({} failed, {} dropped), relay counts {counted}, VmRSS {:.1} MB, {:.1} kB/peer in this step, connect {:.1} s",
            swarm.connected,
            swarm.failures.len(),
            swarm.down.len(),
            rss as f64 / 1024.0,
            per_peer_step,
            took.as_secs_f64()
        );
        points.push(json!({
            "peers": swarm.connected,
            "relay_counts": counted,
            "rss_mb": round3(rss as f64 / 1024.0),
            "kb_per_peer_this_step": round3(per_peer_step),
            "connect_s": round3(took.as_secs_f64()),
        }));
        last = (swarm.connected, rss);
        if swarm.failures.len() > step / 10 {
            break;
        }
    }
    // Still all there a while later (pings are answered, nobody is dropped)?
    tokio::time::sleep(Duration::from_secs(5)).await;
    swarm.drain();
    let counted = status(addr).await?.peers;
    let rss = rss_kb(&pid).ok_or("cannot read the relay's VmRSS")?;
    let n = swarm.connected.max(1);
    let delta_mb = rss.saturating_sub(rss0) as f64 / 1024.0;
    let per_peer_kb = rss.saturating_sub(rss0) as f64 / n as f64;
    println!(
        "{}",
        json!({
            "measurement": "idle_memory",
            "peers_wanted": peers,
            "connected": swarm.connected,
            "relay_counts": counted,
            "dropped": swarm.down.len(),
            "failures": swarm.failure_summary(),
            "relay_rss_before_mb": round3(rss0 as f64 / 1024.0),
            "relay_rss_with_peers_mb": round3(rss as f64 / 1024.0),
            "relay_rss_added_mb": round3(delta_mb),
            "kb_per_peer": round3(per_peer_kb),
            "mb_per_peer": (per_peer_kb / 1024.0 * 10_000.0).round() / 10_000.0,
            "extrapolated_10000_total_mb": round3(rss0 as f64 / 1024.0 + per_peer_kb * 10_000.0 / 1024.0),
            "target_total_mb_10000": 200,
            "steps": points,
            "loadgen_client_read_buffer": *CLIENT_READ_BUFFER.get().unwrap_or(&4096),
            "loadgen_kb_per_peer": round3(rss_kb("self").unwrap_or(0).saturating_sub(self_rss0) as f64 / n as f64),
            "loadgen_rss_mb": round3(rss_kb("self").unwrap_or(0).saturating_sub(self_rss0) as f64 / 1024.0),
        })
    );
    swarm.stop().await;
    Ok(())
}

// ----- transaction ingest -----------------------------------------------------------------

/// Bare signature checks per second on `threads` threads for about `secs` seconds.
fn verify_rate(threads: usize, secs: f64, samples: &[(Vec<u8>, [u8; 32], Vec<u8>)]) -> f64 {
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut n = 0u64;
                    let mut i = t;
                    // Bounded: stops at the time limit, checked every 16 verifications.
                    while start.elapsed() < limit {
                        for _ in 0..16 {
                            let (pk, msg, sig) = &samples[i % samples.len()];
                            let ok = node_core::primitives::keys::verify(pk, msg, sig).is_ok();
                            n += u64::from(std::hint::black_box(ok));
                            i += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn load_coins(path: &Path, n: usize) -> Result<Vec<OutPoint>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .take(n)
        .map(|l| {
            let (txid, vout) = l.split_once(' ').ok_or("bad coins line")?;
            Ok(OutPoint {
                txid: Txid::from_hex(txid).ok_or("bad txid in coins file")?,
                vout: vout.parse().map_err(|_| "bad vout in coins file")?,
            })
        })
        .collect()
}

async fn ingest() -> Result<(), String> {
    let addr = relay_addr()?;
    let pid = pid_arg()?.to_string();
    let dir = PathBuf::from(arg("--data-dir").ok_or("--data-dir DIR is required")?);
    let node_id = arg("--node-id").unwrap_or_else(|| "3000".into());
    let wanted = num("--txs", 20_000)? as usize;
    let pushers = (num("--pushers", 4)? as usize).clamp(1, 64);
    let verify_secs = 3.0;

    // The funded key and its coins, as `prepare` left them.
    let paths = DataPaths::new(Some(dir.clone()), node_id);
    let wallet = Wallet::load(&paths.wallet()).map_err(|e| e.to_string())?;
    let owner = wallet
        .addresses()
        .first()
        .map(|a| a.0)
        .ok_or("the wallet holds no key")?;
    let key = wallet.key_for(&owner).ok_or("no key")?.clone();
    let coins = load_coins(&dir.join(COINS_FILE), wanted)?;
    let n = coins.len();
    if n == 0 {
        return Err("no coins to spend".into());
    }

    // Sign everything before the clock starts, on every core.
    let sign_start = Instant::now();
    let sink_to = KeyPair::generate(&mut OsRng).pubkey_hash();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = n.div_ceil(cores);
    let txs: Vec<Transaction> = std::thread::scope(|scope| {
        let handles: Vec<_> = coins
            .chunks(chunk)
            .map(|part| {
                let key = &key;
                scope.spawn(move || {
                    part.iter()
                        .map(|op| {
                            Transaction::new_signed(
                                key,
                                std::slice::from_ref(op),
                                vec![TxOut {
                                    value: 1,
                                    pubkey_hash: sink_to,
                                }],
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let ours: HashSet<Txid> = txs.iter().map(Transaction::txid).collect();
    let samples: Vec<(Vec<u8>, [u8; 32], Vec<u8>)> = txs
        .iter()
        .take(256)
        .map(|t| {
            (
                t.inputs[0].public_key.clone(),
                t.signature_message(),
                t.inputs[0].signature.clone(),
            )
        })
        .collect();
    let frames: Vec<WsMessage> = txs.iter().map(|t| frame(&Message::Tx(t.clone()))).collect();
    let frame_bytes = frames.first().map_or(0, |f| f.len());
    drop(txs);
    eprintln!(
        "ingest: {n} transactions signed in {:.1} s",
        sign_start.elapsed().as_secs_f64()
    );

    // Bare verification on this machine, while the relay is idle.
    let others_before_verify = wait_quiet(Some(&pid), "ingest").await;
    let verify_1 = verify_rate(1, verify_secs, &samples);
    let verify_all = verify_rate(cores, verify_secs, &samples);
    eprintln!("ingest: bare verify {verify_1:.0}/s on 1 thread, {verify_all:.0}/s on {cores}");

    let s = status(addr).await?;
    let genesis = parse_block_hash(s.genesis.as_ref(), "genesis")?;
    let mempool_before = s.mempool;
    let mut listener = Swarm::new(addr, genesis, false);
    listener.grow_to(1).await;
    if listener.connected != 1 {
        return Err(format!("listener: {:?}", listener.failures));
    }
    let mut push_ws = Vec::new();
    for i in 0..pushers {
        push_ws.push(open_peer(addr, genesis, format!("lg-push-{i}"), Role::Wallet).await?);
    }
    wait_peers(addr, pushers + 1, Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    listener.drain();

    let rejects = Arc::new(AtomicUsize::new(0));
    let first_reject = Arc::new(Mutex::new(None::<String>));
    let (go_tx, go_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let per = n.div_ceil(pushers);
    let mut frames = frames;
    let mut writers = Vec::new();
    for ws in push_ws {
        let mine: Vec<WsMessage> = frames.drain(..per.min(frames.len())).collect();
        let (sink, mut stream) = ws.split();
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        // Reader: rejects, pings, and the relay's invs of the other pushers' transactions.
        {
            let sink = sink.clone();
            let rejects = rejects.clone();
            let first_reject = first_reject.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        m = stream.next() => match m {
                            Some(Ok(WsMessage::Binary(b))) => match decode_frame(&b) {
                                Ok(Message::Reject { reason, .. }) => {
                                    rejects.fetch_add(1, Ordering::Relaxed);
                                    let mut f = first_reject.lock().unwrap_or_else(|e| e.into_inner());
                                    f.get_or_insert(reason);
                                }
                                Ok(Message::Ping(n)) => {
                                    let _ = sink.lock().await.send(frame(&Message::Pong(n))).await;
                                }
                                _ => {}
                            },
                            Some(Ok(_)) => {}
                            _ => return,
                        },
                        _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
                    }
                }
            });
        }
        let mut go = go_rx.clone();
        writers.push(tokio::spawn(async move {
            let _ = go.wait_for(|g| *g).await;
            for batch in mine.chunks(64) {
                let mut s = sink.lock().await;
                for f in batch {
                    if s.feed(f.clone()).await.is_err() {
                        return Err("push failed: connection closed".to_string());
                    }
                }
                if s.flush().await.is_err() {
                    return Err("push failed: connection closed".to_string());
                }
            }
            Ok(Instant::now())
        }));
    }

    let others_before_push = wait_quiet(Some(&pid), "ingest").await;
    let window = CpuWindow::start(&pid);
    let relay_cpu0 = cpu_secs(&pid).unwrap_or(f64::NAN);
    let t0 = Instant::now();
    let _ = go_tx.send(true);
    let mut seen: HashSet<Txid> = HashSet::with_capacity(n);
    let mut last_at = t0;
    let mut first_at: Option<Instant> = None;
    let overall = tokio::time::Instant::now() + Duration::from_secs(180);
    while seen.len() < n {
        // No new inv for 10 s: the relay stopped taking them.
        let quiet = tokio::time::Instant::now() + Duration::from_secs(10);
        match tokio::time::timeout_at(quiet.min(overall), listener.events.recv()).await {
            Ok(Some(PeerEvent::TxInv { txids, at })) => {
                for t in txids {
                    if ours.contains(&t) && seen.insert(t) {
                        last_at = at;
                        first_at.get_or_insert(at);
                    }
                }
            }
            Ok(Some(PeerEvent::Down { reason, .. })) => {
                return Err(format!("the listening peer was dropped: {reason}"))
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let relay_cpu = cpu_secs(&pid).unwrap_or(f64::NAN) - relay_cpu0;
    let cpu = window.report();
    let mut push_done = Vec::new();
    for w in writers {
        // A pusher still blocked on a relay that stopped reading is abandoned.
        let abort = w.abort_handle();
        match tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .unwrap_or_else(|_| {
                abort.abort();
                Ok(Err("pusher still writing after 10 s".into()))
            }) {
            Ok(Ok(at)) => push_done.push(ms(at.duration_since(t0))),
            Ok(Err(e)) => eprintln!("ingest: {e}"),
            Err(e) => eprintln!("ingest: writer task: {e}"),
        }
    }
    let _ = stop_tx.send(true);
    let wall = last_at.duration_since(t0).as_secs_f64();
    let accepted = seen.len();
    let rate = accepted as f64 / wall.max(1e-9);
    let end = status(addr).await?;
    // And once more after, to see whether the machine's figure drifted.
    let verify_all_after = verify_rate(cores, verify_secs, &samples);
    println!(
        "{}",
        json!({
            "measurement": "tx_ingest",
            "txs_pushed": n,
            "tx_bytes": frame_bytes,
            "inputs_per_tx": 1,
            "pushers": pushers,
            "accepted": accepted,
            "rejected": rejects.load(Ordering::Relaxed),
            "first_reject": *first_reject.lock().unwrap_or_else(|e| e.into_inner()),
            "mempool_before": mempool_before,
            "mempool_after": end.mempool,
            "wall_s": round3(wall),
            "first_inv_ms": first_at.map(|a| ms(a.duration_since(t0))),
            "pushers_done_ms": push_done,
            "accepted_tx_per_s": round3(rate),
            "relay_cpu_s": round3(relay_cpu),
            "relay_cores_busy": round3(relay_cpu / wall.max(1e-9)),
            "relay_cpu_us_per_tx": round3(relay_cpu * 1e6 / accepted.max(1) as f64),
            "cpu_during_push": cpu,
            "other_processes_cores_before_verify": others_before_verify,
            "other_processes_cores_before_push": others_before_push,
            "verify_per_s_1_thread": round3(verify_1),
            "verify_per_s_all_threads": round3(verify_all),
            "verify_per_s_all_threads_after": round3(verify_all_after),
            "threads": cores,
            "ratio_vs_all_cores": round3(rate / verify_all),
            "ratio_vs_one_core": round3(rate / verify_1),
            "target_ratio": 0.8,
        })
    );
    listener.stop().await;
    Ok(())
}
