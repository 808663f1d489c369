//! Helpers for driving the real `relay-server` binary: one-shot CLI commands, running nodes
//! on ephemeral ports in a temp data directory, and waiting for conditions with a deadline.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use relay_server::cli::http_client;
use relay_server::hub::StatusReport;

pub mod lab;
pub mod seed;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_relay-server");

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs one CLI command for node `id` in `dir`.
pub fn cli(dir: &Path, id: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--node-id")
        .arg(id)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("NODE_ID")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the relay-server binary runs")
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(dir: &Path, id: &str, args: &[&str]) -> String {
    let out = cli(dir, id, args);
    assert!(
        out.status.success(),
        "`{}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail with one line on stderr; returns that line.
pub fn fails(dir: &Path, id: &str, args: &[&str]) -> String {
    let out = cli(dir, id, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "`{}` should fail but printed {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "`{}` should print one error line, printed: {stderr:?}",
        args.join(" ")
    );
    assert!(
        out.stdout.is_empty(),
        "a failed command prints nothing on stdout"
    );
    stderr.trim_end().to_string()
}

/// `createwallet`; returns the new address.
pub fn new_address(dir: &Path, id: &str) -> String {
    let out = ok(dir, id, &["createwallet"]);
    out.trim()
        .strip_prefix("Your new address: ")
        .unwrap_or_else(|| panic!("unexpected createwallet output {out:?}"))
        .to_string()
}

/// `createblockchain` (bits 8) with the genesis paying `address`.
pub fn create_chain(dir: &Path, id: &str, address: &str) {
    ok(
        dir,
        id,
        &["createblockchain", "--address", address, "--bits", "8"],
    );
}

/// `send --mine` of `amount` from `from` to `to` on node `id`, which must succeed.
pub fn send_mined(dir: &Path, id: &str, from: &str, to: &str, amount: u64) {
    let amount = amount.to_string();
    let out = ok(
        dir,
        id,
        &[
            "send", "--from", from, "--to", to, "--amount", &amount, "--mine",
        ],
    );
    assert_eq!(out, "Success!\n");
}

/// `getbalance` as a number.
pub fn balance(dir: &Path, id: &str, address: &str) -> u64 {
    let out = ok(dir, id, &["getbalance", "--address", address]);
    let expected = format!("Balance of '{address}': ");
    out.trim()
        .strip_prefix(&expected)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected getbalance output {out:?}"))
}

/// The hidden `utxodigest`: (digest, height, tip).
pub fn utxo_digest(dir: &Path, id: &str) -> (String, u64, String) {
    let out = ok(dir, id, &["utxodigest"]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
            .trim()
            .to_string()
    };
    let height = field("Height:").parse().expect("height is a number");
    (field("UTXO digest:"), height, field("Tip:"))
}

/// Polls `check` until it returns `Some`, or fails the test after [`DEADLINE`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running `startnode` process on an ephemeral port.
pub struct NodeProc {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its node id.
    pub id: String,
    dir: PathBuf,
    log: PathBuf,
}

impl NodeProc {
    /// Starts node `id` in `dir` with `extra` arguments, and waits until it serves `/status`.
    pub async fn start(dir: &Path, id: &str, extra: &[&str]) -> NodeProc {
        NodeProc::start_on(dir, id, "127.0.0.1:0", extra).await
    }

    /// [`NodeProc::start`] listening on `listen`.
    pub async fn start_on(dir: &Path, id: &str, listen: &str, extra: &[&str]) -> NodeProc {
        let addr_file = dir.join(format!("node_{id}.addr"));
        let _ = std::fs::remove_file(&addr_file);
        let log = dir.join(format!("startnode_{id}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new(BIN)
            .arg("--node-id")
            .arg(id)
            .arg("--data-dir")
            .arg(dir)
            .arg("startnode")
            .arg("--listen")
            .arg(listen)
            .args(extra)
            .env_remove("NODE_ID")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("startnode spawns");
        let mut node = NodeProc {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            id: id.to_string(),
            dir: dir.to_path_buf(),
            log,
        };
        let addr = wait_for(&format!("node {id} to write its address"), || {
            let exited = node.exited();
            let read = std::fs::read_to_string(&addr_file).ok();
            async move {
                if let Some(status) = exited {
                    panic!("startnode exited early with {status}");
                }
                read.and_then(|s| s.trim().parse::<SocketAddr>().ok())
            }
        })
        .await;
        node.addr = addr;
        wait_for(&format!("node {id} to answer /status"), || {
            let addr = node.addr;
            async move { try_status(addr).await }
        })
        .await;
        node
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The URL peers dial.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `GET /status`, which must answer.
    pub async fn status(&self) -> StatusReport {
        try_status(self.addr).await.unwrap_or_else(|| {
            panic!(
                "node {} does not answer /status:\n{}",
                self.id,
                self.log_tail()
            )
        })
    }

    /// Waits until the node's tip is `tip`.
    pub async fn wait_tip(&self, tip: &str) -> StatusReport {
        let what = format!("node {} to reach tip {tip}", self.id);
        wait_for(&what, || async {
            try_status(self.addr)
                .await
                .filter(|s| s.tip.as_deref() == Some(tip))
        })
        .await
    }

    /// Its log file (stdout and stderr).
    pub fn log_path(&self) -> PathBuf {
        self.log.clone()
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops it with SIGTERM and waits for a clean exit.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM sent");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                panic!("node {} did not stop:\n{}", self.id, self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "node {} exited with {status}:\n{}",
            self.id,
            self.log_tail()
        );
        for f in [
            format!(".cookie_{}", self.id),
            format!("node_{}.addr", self.id),
        ] {
            assert!(
                !self.dir.join(&f).exists(),
                "{f} removed on a graceful stop"
            );
        }
    }

    /// Kills it with SIGKILL (no chance to clean up).
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET /status`, or `None` if nothing answers.
pub async fn try_status(addr: SocketAddr) -> Option<StatusReport> {
    let res = http_client::get(addr, "/status").await.ok()?;
    if !res.status.is_success() {
        return None;
    }
    serde_json::from_slice(&res.body).ok()
}

/// `VmRSS` and `VmHWM` (its peak) of a process, in kB.
pub fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Appends to node `id`'s stored chain (no node running) a block of nearly the largest
/// size: `key`'s genesis coins passed from one transaction to the next, thousands of
/// times. Returns its hash. The genesis must pay `key`.
pub fn add_big_block(dir: &Path, id: &str, key: &node_core::KeyPair) -> node_core::BlockHash {
    use node_core::{consensus::pow, ChainParams, OutPoint, Transaction, TxOut};
    use relay_server::store::Store;

    let store = Store::open(&dir.join(format!("blockchain_{id}.db"))).expect("store");
    let mut chain = store
        .load_chain(ChainParams::default())
        .expect("readable")
        .expect("a chain");
    let genesis = chain.body_at(0).expect("genesis").into_owned();
    let mut coin = OutPoint {
        txid: genesis.transactions[0].txid(),
        vout: 0,
    };
    let value = genesis.transactions[0].outputs[0].value;
    let mut txs = Vec::new();
    let mut size = 0;
    // Leave room for the header and the coinbase under MAX_BLOCK_SIZE (1 MiB).
    while size < 1_000_000 {
        let out = TxOut {
            value,
            pubkey_hash: key.pubkey_hash(),
        };
        let tx = Transaction::new_signed(key, &[coin], vec![out]);
        size += tx.encode().len();
        coin = OutPoint {
            txid: tx.txid(),
            vout: 0,
        };
        txs.push(tx);
    }
    let now = relay_server::util::now_ms();
    let mut block = chain.template(key.pubkey_hash(), txs, 0, now, b"big");
    assert!(pow::mine(&mut block.header).is_some(), "mined");
    let hash = block.hash();
    chain.accept_block(block, now).expect("a valid block");
    assert_eq!(chain.tip(), hash);
    store.apply(&[chain.take_changes()]).expect("stored");
    hash
}
