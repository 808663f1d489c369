//! `relay-server`: the seed's command line.
//!
//! ```text
//! relay-server [--node-id ID] [--data-dir DIR] COMMAND
//! ```
//! `NODE_ID` in the environment works as in the seed. Output is the seed's; every error is
//! one line on stderr with a non-zero exit.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use node_core::ChainParams;
use relay_server::admission::Limits;
use relay_server::cli::single_dash;
use relay_server::commands::Request;
use relay_server::node::{MetricsListen, StartOptions, DIAL_LEARNED};
use relay_server::paths::{valid_node_id, DataPaths};
use relay_server::util::logging::LogFormat;

/// The seed's central node: a blockchain CLI, a WebSocket relay and the page server.
#[derive(Debug, Parser)]
#[command(name = "relay-server", version, about)]
struct Cli {
    /// Node id: names this node's files (blockchain_<ID>.db, wallet_<ID>.dat).
    #[arg(long, env = "NODE_ID", default_value = "3000", global = true, value_parser = node_id)]
    node_id: String,
    /// Directory of the node's files (default: the current directory).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// How log lines on stderr are written (filtered by RUST_LOG, default info).
    #[arg(long, env = "LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

fn node_id(s: &str) -> Result<String, String> {
    if valid_node_id(s) {
        Ok(s.to_string())
    } else {
        Err("use 1-32 letters, digits, '-' or '_'".into())
    }
}

// Parsed once per run: the size of `startnode`'s variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Create a blockchain and send the genesis block reward to ADDRESS.
    #[command(name = "createblockchain")]
    CreateBlockchain {
        /// Who the genesis coinbase pays.
        #[arg(long)]
        address: String,
        /// Proof-of-work difficulty in leading zero bits, fixed for the network.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=40))]
        bits: u32,
    },
    /// Generate a new key pair and save it into the wallet file.
    #[command(name = "createwallet")]
    CreateWallet,
    /// List all addresses from the wallet file.
    #[command(name = "listaddresses")]
    ListAddresses,
    /// Get the balance of ADDRESS.
    #[command(name = "getbalance")]
    GetBalance {
        /// Whose balance.
        #[arg(long)]
        address: String,
    },
    /// Send AMOUNT of coins from FROM to TO.
    Send {
        /// An address of this node's wallet.
        #[arg(long)]
        from: String,
        /// The recipient.
        #[arg(long)]
        to: String,
        /// Coins to send.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        amount: u64,
        /// Mine the payment on this node at once (the coinbase pays the sender).
        #[arg(long)]
        mine: bool,
        /// The central node to submit to when not mining.
        #[arg(long, default_value = "ws://127.0.0.1:3000/ws")]
        relay: String,
    },
    /// Print all the blocks of the blockchain, newest first.
    #[command(name = "printchain")]
    PrintChain,
    /// Rebuild the UTXO set from the chain.
    #[command(name = "reindexutxo")]
    ReindexUtxo,
    /// Start the node: the page, the WebSocket relay and the control endpoint.
    #[command(name = "startnode")]
    StartNode {
        /// Address to listen on [default: 127.0.0.1:<ID>].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Mine blocks paying this address.
        #[arg(long)]
        miner: Option<String>,
        /// A relay to stay connected to, e.g. ws://127.0.0.1:3000/ws (repeatable).
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// Outbound connections to keep, dialling relays learned from peers (`addr`) when
        /// the --peer ones fall short; 0 dials none.
        #[arg(long, default_value_t = DIAL_LEARNED)]
        dial_learned: usize,
        /// The URL other relays should dial to reach this one, e.g. wss://relay.example/ws
        /// [default: ws://<listen address>/ws; none when listening on every interface].
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Serve the page from this directory, for working on it [default: the page built
        /// into this binary].
        #[arg(long)]
        www: Option<PathBuf>,
        /// Most WebSocket connections at once, both directions.
        #[arg(long, default_value_t = Limits::default().max_peers)]
        max_peers: usize,
        /// Most connections from one address (an IPv6 /64); loopback has its own limit.
        #[arg(long, default_value_t = Limits::default().max_peers_per_ip)]
        max_peers_per_ip: usize,
        /// Most connections from loopback (a local browser's tabs, a local reverse proxy)
        /// [default: only --max-peers bounds them].
        #[arg(long)]
        max_loopback_peers: Option<usize>,
        /// Largest frame a peer may send, in bytes (at most the protocol's limit).
        #[arg(long, default_value_t = Limits::default().max_frame_size)]
        max_frame_size: usize,
        /// Frames per second a peer may send on average.
        #[arg(long, default_value_t = Limits::default().rate_per_sec)]
        peer_rate: u32,
        /// Frames a peer may send in one burst.
        #[arg(long, default_value_t = Limits::default().rate_burst)]
        peer_burst: u32,
        /// Seconds a misbehaving peer's address is refused (never loopback's).
        #[arg(long, default_value_t = Limits::default().ban_duration.as_secs())]
        ban_seconds: u64,
        /// Another page origin allowed to open /ws, e.g. https://wallet.example (repeatable).
        #[arg(long = "allow-origin", value_name = "URL")]
        allow_origins: Vec<String>,
        /// Another host name requests may be addressed to (repeatable), e.g. box.lan;
        /// IP addresses, localhost and the hosts of --public-url and --allow-origin always are.
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
        /// A reverse proxy whose X-Forwarded-For names the client (repeatable), e.g.
        /// 127.0.0.1: its clients are then limited and refused by their own addresses.
        #[arg(long = "trusted-proxy", value_name = "ADDR")]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Bytes waiting to be written to one peer before it counts as not reading and is
        /// dropped (at least the largest frame).
        #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_send_queue)]
        max_send_queue: usize,
        /// Bytes waiting to be written to all peers together; past it, the peers holding the
        /// most are dropped (at least --max-send-queue).
        #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_send_total)]
        max_send_total: usize,
        /// Seconds one frame may take to write before its peer counts as not reading.
        #[arg(long, value_name = "SECONDS",
            default_value_t = Limits::default().write_timeout.as_secs())]
        write_timeout: u64,
        /// Connections in their HTTP phase at once (page loads, /status, upgrades not yet
        /// done); when full, the oldest idle one makes room.
        #[arg(long, default_value_t = Limits::default().max_http_connections)]
        max_http_connections: usize,
        /// Orphan blocks (parent unknown) kept waiting for their parent.
        #[arg(long, default_value_t = ChainParams::default().max_orphans)]
        max_orphans: usize,
        /// Transactions the mempool holds.
        #[arg(long, default_value_t = ChainParams::default().max_mempool_txs)]
        max_mempool_txs: usize,
        /// Where to serve Prometheus /metrics (and /livez, /readyz), or `off`
        /// [default: 127.0.0.1:<listen port + 10000>].
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<MetricsListen>,
    },
    /// Digest, height and tip of the stored UTXO set (for tests).
    #[command(name = "utxodigest", hide = true)]
    UtxoDigest,
    /// Mine BLOCKS empty blocks paying ADDRESS (for tests).
    #[command(name = "generate", hide = true)]
    Generate {
        /// Who the coinbases pay.
        #[arg(long)]
        address: String,
        /// How many blocks.
        #[arg(long)]
        blocks: u64,
    },
}

/// clap's message without its usage block, on one line.
fn one_line_usage_error(e: &clap::Error) -> String {
    let text = e.to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        "error: invalid arguments (see --help)".into()
    } else {
        parts.join(" ")
    }
}

fn main() -> ExitCode {
    // A damaged file must give one line, never a panic's several.
    relay_server::util::panic_barrier::install_hook();
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let mut typed = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(a) => typed.push(a),
            Err(bad) => {
                eprintln!("error: argument {bad:?} is not valid UTF-8");
                return ExitCode::from(2);
            }
        }
    }
    let args = match single_dash::long_flags(&command, typed) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::try_parse_from(std::iter::once("relay-server".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                _ => {
                    eprintln!("{}", one_line_usage_error(&e));
                    ExitCode::from(2)
                }
            };
        }
    };
    relay_server::util::logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let paths = DataPaths::new(cli.data_dir, cli.node_id);
    let result = runtime.block_on(async {
        let request = match cli.command {
            Command::StartNode {
                listen,
                miner,
                peers,
                dial_learned,
                public_url,
                www,
                max_peers,
                max_peers_per_ip,
                max_loopback_peers,
                max_frame_size,
                peer_rate,
                peer_burst,
                ban_seconds,
                allow_origins,
                allow_hosts,
                trusted_proxies,
                max_send_queue,
                max_send_total,
                write_timeout,
                max_http_connections,
                max_orphans,
                max_mempool_txs,
                metrics_listen,
            } => {
                let limits = Limits {
                    max_frame_size,
                    rate_per_sec: peer_rate,
                    rate_burst: peer_burst,
                    max_peers,
                    max_peers_per_ip,
                    max_loopback_peers,
                    ban_duration: std::time::Duration::from_secs(ban_seconds),
                    allowed_origins: allow_origins,
                    allowed_hosts: allow_hosts,
                    trusted_proxies,
                    max_send_queue,
                    max_send_total,
                    write_timeout: std::time::Duration::from_secs(write_timeout),
                    max_http_connections,
                };
                let opts = StartOptions {
                    listen,
                    miner,
                    peers,
                    dial_learned,
                    public_url,
                    www,
                    limits,
                    max_orphans,
                    max_mempool_txs,
                    metrics_listen: metrics_listen.unwrap_or_default(),
                };
                return relay_server::node::run(paths, opts)
                    .await
                    .map(|()| String::new());
            }
            Command::CreateBlockchain { address, bits } => {
                Request::CreateBlockchain { address, bits }
            }
            Command::CreateWallet => Request::CreateWallet,
            Command::ListAddresses => Request::ListAddresses,
            Command::GetBalance { address } => Request::GetBalance { address },
            Command::Send {
                from,
                to,
                amount,
                mine,
                relay,
            } => Request::Send {
                from,
                to,
                amount,
                mine,
                relay,
            },
            Command::PrintChain => Request::PrintChain,
            Command::ReindexUtxo => Request::ReindexUtxo,
            Command::UtxoDigest => Request::UtxoDigest,
            Command::Generate { address, blocks } => Request::Generate { address, blocks },
        };
        relay_server::cli::run(&paths, request).await
    });
    // Blocking threads (a cancelled miner, say) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(output) => {
            // A closed pipe (`printchain | head`) is not an error worth a panic.
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(output.as_bytes())
                .and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.one_line());
            ExitCode::FAILURE
        }
    }
}
