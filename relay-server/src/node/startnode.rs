//! `startnode`: the seed's central node as a server, until Ctrl-C or SIGTERM.
//!
//! Opens the chain store (or starts an empty one to download into from `--peer`), binds the
//! port, writes the control files, then runs the hub, the HTTP server and one dialler per
//! `--peer`. On a signal it stops them in that order's reverse: the hub finishes the action
//! it is on (a commit is never cut short by a graceful stop), then the files are removed.

use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use node_core::node::NodeConfig;
use node_core::protocol::{Role, MAX_FRAME_SIZE};
use node_core::{ChainParams, Node};
use rand_core::{OsRng, RngCore};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::admission::{Limits, ServedNames};
use crate::commands::{parse_address, CliError};
use crate::http::conns::{self, ConnTable};
use crate::http::control::ControlFiles;
use crate::http::lab_restart::RestartHook;
use crate::http::page::PageSource;
use crate::hub::{Dialer, Hub, HubError, Wiring};
use crate::net::{dial, Shared};
use crate::paths::DataPaths;
use crate::store::Store;
use crate::util::now_ms;

/// The smallest `--max-frame-size`: room for any message but a block or a long list.
pub const MIN_FRAME_SIZE: usize = 4_096;

/// How long the hub may take to finish the action it is on once told to stop.
const HUB_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the HTTP server may take to close its connections once the node stops.
const HTTP_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Messages waiting in the hub's inbox before senders wait: connection tasks await it, so a
/// busy hub slows the readers rather than growing a queue.
const HUB_INBOX: usize = 1024;

/// Outbound connections a relay keeps to relays it learned of, by default: enough that a
/// network of relays peered through one hub stays connected when the hub goes.
pub const DIAL_LEARNED: usize = 4;

/// How far above the main port the metrics address's port is by default: node 3000's
/// metrics are on 127.0.0.1:13000, clear of the ports of the seed's other nodes (3001, 3002).
pub const METRICS_PORT_OFFSET: u16 = 10_000;

/// Most connections to the metrics address at once: a scraper or two and a person.
const MAX_METRICS_CONNECTIONS: usize = 16;

/// Where `/metrics` (with `/livez` and `/readyz`) is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsListen {
    /// Loopback, on the main port plus [`METRICS_PORT_OFFSET`] (an ephemeral port when that
    /// does not fit or the main port is).
    #[default]
    Loopback,
    /// This address.
    At(SocketAddr),
    /// Nowhere.
    Off,
}

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "off" {
            return Ok(MetricsListen::Off);
        }
        s.parse()
            .map(MetricsListen::At)
            .map_err(|_| format!("'{s}' is not an address such as 127.0.0.1:13000, nor 'off'"))
    }
}

impl MetricsListen {
    /// The address to bind, given where the main port listens.
    pub fn address(self, main: SocketAddr) -> Option<SocketAddr> {
        match self {
            MetricsListen::Off => None,
            MetricsListen::At(a) => Some(a),
            MetricsListen::Loopback => {
                let port = match main.port() {
                    0 => 0,
                    p => p.checked_add(METRICS_PORT_OFFSET).unwrap_or(0),
                };
                Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            }
        }
    }
}

/// `startnode`'s options.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Where to listen; `127.0.0.1:<ID>` when the id is a port number, as in the seed.
    pub listen: Option<SocketAddr>,
    /// Mine to this address.
    pub miner: Option<String>,
    /// Relays to stay connected to (`ws://HOST:PORT/ws`).
    pub peers: Vec<String>,
    /// Outbound connections to keep to relays learned from peers ([`DIAL_LEARNED`] unless
    /// told otherwise).
    pub dial_learned: usize,
    /// The URL other relays should dial to reach this one, when it is not the listening
    /// address (behind a proxy, or listening on every interface).
    pub public_url: Option<String>,
    /// The page's directory (`--www`); `None` serves the page embedded in the binary.
    pub www: Option<PathBuf>,
    /// What peers may use: frame size, rate, connections, bans, origins.
    pub limits: Limits,
    /// Orphan blocks kept waiting for their parent ([`ChainParams::max_orphans`]).
    pub max_orphans: usize,
    /// Transactions the mempool holds ([`ChainParams::max_mempool_txs`]).
    pub max_mempool_txs: usize,
    /// Where the metrics are served.
    pub metrics_listen: MetricsListen,
}

impl StartOptions {
    /// The chain parameters: consensus defaults, with this node's pool bounds.
    pub fn chain_params(&self) -> ChainParams {
        ChainParams {
            max_orphans: self.max_orphans,
            max_mempool_txs: self.max_mempool_txs,
            ..ChainParams::default()
        }
    }
}

/// Where node `id` listens by default.
pub fn default_listen(node_id: &str) -> SocketAddr {
    let port = node_id
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .unwrap_or(3000);
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn check_peer_url(url: &str) -> Result<(), CliError> {
    check_ws_url("--peer", url, &["ws"], "ws://HOST:PORT/ws")
}

fn check_ws_url(option: &str, url: &str, schemes: &[&str], expected: &str) -> Result<(), CliError> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url
        .parse()
        .map_err(|e| CliError::BadArgument(format!("invalid {option} URL '{url}': {e}")))?;
    if !uri.scheme_str().is_some_and(|s| schemes.contains(&s)) || uri.host().is_none() {
        return Err(CliError::BadArgument(format!(
            "invalid {option} URL '{url}': expected {expected}"
        )));
    }
    Ok(())
}

/// What this relay announces as its address in `version`: `--public-url`, else the address
/// it listens on, unless that is every interface (`0.0.0.0`, `[::]`), which nobody can dial.
fn announced_url(public_url: Option<&str>, local: std::net::SocketAddr) -> Option<String> {
    match public_url {
        Some(url) => Some(url.to_string()),
        None if local.ip().is_unspecified() => None,
        None => Some(format!("ws://{local}/ws")),
    }
}

fn check_limits(limits: &Limits) -> Result<(), CliError> {
    if limits.max_frame_size < MIN_FRAME_SIZE || limits.max_frame_size > MAX_FRAME_SIZE {
        return Err(CliError::BadArgument(format!(
            "--max-frame-size must be between {MIN_FRAME_SIZE} and {MAX_FRAME_SIZE} bytes"
        )));
    }
    if limits.rate_per_sec == 0 || limits.rate_burst == 0 {
        return Err(CliError::BadArgument(
            "--peer-rate and --peer-burst must be at least 1".into(),
        ));
    }
    for origin in &limits.allowed_origins {
        let uri: tokio_tungstenite::tungstenite::http::Uri = origin.parse().map_err(|e| {
            CliError::BadArgument(format!("invalid --allow-origin '{origin}': {e}"))
        })?;
        let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() || !bare {
            return Err(CliError::BadArgument(format!(
                "invalid --allow-origin '{origin}': expected http(s)://HOST[:PORT]"
            )));
        }
    }
    if limits.max_send_queue < MAX_FRAME_SIZE || limits.max_send_total < limits.max_send_queue {
        return Err(CliError::BadArgument(format!(
            "--max-send-queue must be at least {MAX_FRAME_SIZE} bytes (the largest frame) \
             and --max-send-total at least --max-send-queue"
        )));
    }
    if limits.max_http_connections == 0 {
        return Err(CliError::BadArgument(
            "--max-http-connections must be at least 1".into(),
        ));
    }
    if limits.write_timeout.is_zero() {
        return Err(CliError::BadArgument(
            "--write-timeout must be at least 1 second".into(),
        ));
    }
    for host in &limits.allowed_hosts {
        let bare = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !bare {
            return Err(CliError::BadArgument(format!(
                "invalid --allow-host '{host}': expected a host name such as relay.example"
            )));
        }
    }
    Ok(())
}

/// Ctrl-C and SIGTERM, listened for from the very start of `startnode`: a signal that
/// arrives before its handler exists gets the default action, which kills the relay in the
/// middle of starting (seen under load: SIGTERM right after the relay first answered).
/// One that arrives while the relay starts is kept and stops it as soon as it runs.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals {
                term: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Resolves on Ctrl-C or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = one(&mut self.term) => {}
                _ = one(&mut self.interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Binds the metrics address, if any. The default port taken (another program, a relay of
/// another id) leaves the relay without metrics rather than not running; an address asked
/// for with `--metrics-listen` must work.
async fn bind_metrics(
    choice: MetricsListen,
    main: SocketAddr,
) -> Result<Option<TcpListener>, CliError> {
    let Some(at) = choice.address(main) else {
        return Ok(None);
    };
    match TcpListener::bind(at).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if choice == MetricsListen::Loopback => {
            tracing::warn!(%at, "metrics not served: cannot listen there: {e} \
                (choose an address with --metrics-listen)");
            Ok(None)
        }
        Err(e) => Err(CliError::io(format!("listening for metrics on {at}"))(e)),
    }
}

/// Runs the node until a signal; `Err` if it cannot start or its storage fails.
pub async fn run(paths: DataPaths, opts: StartOptions) -> Result<(), CliError> {
    let mut stop_signals = StopSignals::listen();
    let miner = opts
        .miner
        .as_deref()
        .map(|m| parse_address("miner address", m))
        .transpose()?;
    for url in &opts.peers {
        check_peer_url(url)?;
    }
    if let Some(url) = &opts.public_url {
        check_ws_url(
            "--public-url",
            url,
            &["ws", "wss"],
            "ws[s]://HOST[:PORT]/PATH",
        )?;
    }
    check_limits(&opts.limits)?;
    let params = opts.chain_params();
    let db = paths.chain_db();
    let (store, chain) = if db.exists() {
        let store = Store::open(&db)?;
        let chain = store.load_chain(params.clone())?;
        (store, chain)
    } else if opts.peers.is_empty() {
        return Err(CliError::NoChain);
    } else {
        fs::create_dir_all(paths.dir())
            .map_err(CliError::io(format!("creating {}", paths.dir().display())))?;
        (Store::create(&db)?, None)
    };
    if chain.is_none() && opts.peers.is_empty() {
        return Err(CliError::NoChain);
    }

    let listen = opts
        .listen
        .unwrap_or_else(|| default_listen(paths.node_id()));
    let listener = TcpListener::bind(listen)
        .await
        .map_err(CliError::io(format!("listening on {listen}")))?;
    let local = listener
        .local_addr()
        .map_err(CliError::io("reading the listening address"))?;
    let metrics_listener = bind_metrics(opts.metrics_listen, local).await?;

    let config = NodeConfig {
        node_id: paths.node_id().to_string(),
        role: Role::Relay,
        listen_url: announced_url(opts.public_url.as_deref(), local),
        nonce: OsRng.next_u64(),
        // Every message in and out, only when someone asked to see them (RUST_LOG=trace).
        trace_messages: tracing::enabled!(tracing::Level::TRACE),
        params,
        dial_learned: opts.dial_learned,
        ..NodeConfig::default()
    };
    let had_chain = chain.is_some();
    let mut node = Node::new(config, chain);
    // Bodies and undo data stay in the file: memory holds the header index, the UTXO set
    // and recent bodies, whatever the chain's length (also for a chain downloaded now).
    node.keep_bodies_in(Arc::new(store.bodies()));
    node.keep_coins_in(Arc::new(store.coins()));
    if let Some(m) = miner {
        node.start_mining(now_ms(), m.0);
    }

    let files = ControlFiles::write(&paths, local)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (hub_tx, hub_rx) = mpsc::channel(HUB_INBOX);
    tracing::info!(limits = ?opts.limits, max_orphans = opts.max_orphans,
        max_mempool_txs = opts.max_mempool_txs, "peer limits");
    let names = ServedNames::new(
        opts.public_url.as_deref(),
        &opts.limits.allowed_origins,
        &opts.limits.allowed_hosts,
    );
    tracing::info!(names = %names.describe(), "host names served");
    let shared = Arc::new(
        Shared::new(
            hub_tx,
            files.secret.clone(),
            opts.limits.clone(),
            stop_rx.clone(),
        )
        .with_names(names)
        .listening_on(local),
    );
    let (dialer, dial_requests) = Dialer::new();
    let wiring = Wiring {
        send_budget: shared.send_budget.clone(),
        bans: shared.bans.clone(),
        dialer,
        metrics: shared.metrics.clone(),
    };
    let hub = Hub::new(node, store, paths.wallet(), wiring);
    let mut hub_task = tokio::spawn(hub.run(hub_rx, stop_rx.clone()));
    // `--peer` relays have their own redialling task: never dialled as learned.
    tokio::spawn(dial::dial_requested(
        shared.clone(),
        dial_requests,
        opts.peers.clone(),
    ));

    let page = PageSource::from_option(opts.www.clone());
    if let Some(problem) = page.problem() {
        tracing::warn!("{problem}");
    }
    let (restart_hook, mut restarts) = RestartHook::new(listen.port() != 0);
    let app = crate::http::router(shared.clone(), &page).layer(axum::Extension(restart_hook));
    let table = ConnTable::new(
        opts.limits.max_http_connections,
        &opts.limits.trusted_proxies,
    );
    let server = tokio::spawn(conns::serve(listener, app, table, stop_rx.clone()));
    let metrics_at = match metrics_listener {
        Some(listener) => {
            let bound = listener
                .local_addr()
                .map_err(CliError::io("reading the metrics address"))?;
            let table = ConnTable::new(MAX_METRICS_CONNECTIONS, &[]);
            let routes = crate::http::health::observe_router(shared.clone());
            tokio::spawn(conns::serve(listener, routes, table, stop_rx.clone()));
            Some(bound)
        }
        None => None,
    };
    for url in &opts.peers {
        tokio::spawn(dial::dial_forever(shared.clone(), url.clone()));
    }

    let mut banner = format!("Starting node {}\n", paths.node_id());
    banner += &format!(
        "Listening on http://{local}/ (page from {}) and ws://{local}/ws\n",
        page.describe()
    );
    if let Some(at) = metrics_at {
        banner += &format!("Metrics on http://{at}/metrics (and /livez, /readyz)\n");
    }
    if let Some(m) = miner {
        banner += &format!("Mining is on. Address to receive rewards: {m}\n");
    }
    if !had_chain {
        banner += &format!(
            "No blockchain yet: downloading it from {}\n",
            opts.peers.join(", ")
        );
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    tracing::info!(node_id = paths.node_id(), %local, "node started");

    let mut restart_after = None;
    let outcome = tokio::select! {
        _ = stop_signals.recv() => {
            tracing::info!("stopping");
            None
        }
        down = restarts.asked() => {
            tracing::info!(?down, "stopping to restart (asked by the lab)");
            restart_after = Some(down);
            None
        }
        done = &mut hub_task => Some(done),
    };
    let _ = stop_tx.send(true);
    let hub_result = match outcome {
        Some(done) => hub_outcome(done),
        None => match tokio::time::timeout(HUB_STOP_TIMEOUT, hub_task).await {
            Ok(done) => hub_outcome(done),
            Err(_) => Err(CliError::Fatal("the hub did not stop in time".into())),
        },
    };
    let _ = tokio::time::timeout(HTTP_STOP_TIMEOUT, server).await;
    drop(files);
    if hub_result.is_ok() {
        tracing::info!("stopped");
    }
    match restart_after {
        Some(down) if hub_result.is_ok() => {
            // The listeners close with the server tasks; the exec closes what is left.
            tokio::time::sleep(down).await;
            let e = crate::http::lab_restart::run_again();
            Err(CliError::Fatal(format!("restarting the relay: {e}")))
        }
        _ => hub_result,
    }
}

/// How the hub's task ended, as the command's result.
fn hub_outcome(done: Result<Result<(), HubError>, tokio::task::JoinError>) -> Result<(), CliError> {
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CliError::Fatal(e.to_string())),
        Err(e) => Err(CliError::Fatal(format!("the hub task failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_url_is_one_other_relays_can_dial() {
        let at = |s: &str| s.parse::<std::net::SocketAddr>().ok();
        let local = at("127.0.0.1:3000").map(|a| announced_url(None, a));
        assert_eq!(local, Some(Some("ws://127.0.0.1:3000/ws".into())));
        assert_eq!(
            at("0.0.0.0:3000").map(|a| announced_url(None, a)),
            Some(None)
        );
        assert_eq!(at("[::]:3000").map(|a| announced_url(None, a)), Some(None));
        let public = at("0.0.0.0:3000").map(|a| announced_url(Some("wss://relay.example/ws"), a));
        assert_eq!(public, Some(Some("wss://relay.example/ws".into())));
    }
}
