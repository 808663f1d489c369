//! HTTP on one port: the page (static files from `www/`), the node protocol (WebSocket on
//! `/ws`), `GET /status`, and the loopback-only `POST /control`.
//!
//! Serving the page and the protocol from the same origin is what lets a tab at
//! `http://127.0.0.1:3000/?node=3001` connect without any cross-origin set-up; it is also why
//! `/ws` checks `Origin`: another site open in the same browser must not be able to drive a
//! local node through the user's tabs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use node_core::node::peers::PeerId;
use node_core::protocol::MAX_FRAME_SIZE;
use tokio::sync::{mpsc, oneshot, watch};
use tower_http::services::ServeDir;

use crate::client_address::client_address;
use crate::control;
use crate::hub::{HubMsg, StatusReport};
use crate::peer_conn;
use crate::peer_slots::PeerSlots;
pub use crate::peer_slots::{address_group, ConnectionSlot, SlotRefusal};
use crate::send_queue::SendBudget;
use crate::served_names::ServedNames;
use crate::verified_txs::VerifiedTxs;

/// What peers may use of this node, set by `startnode`'s flags; the defaults suit a relay
/// serving a few hundred tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket frame or message read, in bytes (at most the protocol's
    /// [`MAX_FRAME_SIZE`]). Longer ones are refused as their header arrives, unread.
    pub max_frame_size: usize,
    /// Frames per second a peer may send on average...
    pub rate_per_sec: u32,
    /// ...and in a burst.
    pub rate_burst: u32,
    /// Most WebSocket connections at once, both directions (outbound ones always open).
    pub max_peers: usize,
    /// Most inbound connections from one address (IPv6: one /64), loopback excepted.
    pub max_peers_per_ip: usize,
    /// Most inbound connections from loopback; `None`: only `max_peers` bounds them.
    pub max_loopback_peers: Option<usize>,
    /// How long a misbehaving (non-loopback) address is refused.
    pub ban_duration: Duration,
    /// Page origins allowed to open `/ws` besides the relay's own and local ones
    /// (`scheme://host[:port]`, no path).
    pub allowed_origins: Vec<String>,
    /// Host names served besides IP addresses, localhost, `--public-url`'s and the allowed
    /// origins' (see [`ServedNames`]).
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see [`client_address`]).
    pub trusted_proxies: Vec<IpAddr>,
    /// Bytes queued for one peer before it counts as not reading and is dropped.
    pub max_send_queue: usize,
    /// Bytes queued for all peers together; past it, the peers holding the most are dropped.
    pub max_send_total: usize,
    /// Longest a single frame may take to write before its peer counts as not reading.
    pub write_timeout: Duration,
    /// Connections in their HTTP phase (not yet, or never, peers) at once; see
    /// [`crate::http_conns`].
    pub max_http_connections: usize,
}

/// Blocks an honest node has in flight from one peer at most (`max_blocks_in_flight` of
/// node-core's default configuration, the browser's and the relay's), plus room for
/// announcements: what one peer's send queue must hold so a node downloading the largest
/// blocks is never taken for one that does not read.
pub const SEND_QUEUE_FRAMES: usize = 2 + 128;

/// Default of [`Limits::max_send_queue`]: [`SEND_QUEUE_FRAMES`] of the largest frames.
pub const DEFAULT_MAX_SEND_QUEUE: usize = SEND_QUEUE_FRAMES * MAX_FRAME_SIZE;

/// Default of [`Limits::max_send_total`]: two peers' full queues. A peer that stops
/// reading stops being asked for more at [`crate::send_queue::PAUSE_READING_BYTES`], so
/// only many of them together, or one honest download of the largest blocks, come near it.
pub const DEFAULT_MAX_SEND_TOTAL: usize = 2 * DEFAULT_MAX_SEND_QUEUE;

/// Default of [`Limits::write_timeout`]: a peer that cannot take the largest frame (1 MiB)
/// in a minute, 17 KB/s, cannot follow the chain anyway.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: MAX_FRAME_SIZE,
            rate_per_sec: 2_000,
            rate_burst: 4_000,
            max_peers: 1_000,
            max_peers_per_ip: 50,
            max_loopback_peers: None,
            ban_duration: Duration::from_secs(10 * 60),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            max_send_queue: DEFAULT_MAX_SEND_QUEUE,
            max_send_total: DEFAULT_MAX_SEND_TOTAL,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_http_connections: 256,
        }
    }
}

/// State shared by the HTTP handlers and the connection tasks.
pub struct Shared {
    /// The hub's inbox.
    pub hub: mpsc::Sender<HubMsg>,
    /// The control endpoint's secret.
    pub cookie: String,
    /// Addresses refused until the given instant.
    pub bans: Mutex<HashMap<IpAddr, Instant>>,
    /// WebSocket connections, both directions, counted (see [`PeerSlots`]).
    pub slots: Arc<PeerSlots>,
    /// What peers may use.
    pub limits: Limits,
    /// Raised once when the node stops.
    pub shutdown: watch::Receiver<bool>,
    /// The host names requests may be addressed to.
    pub names: ServedNames,
    /// Bytes queued for all peers, against `limits.max_send_total`.
    pub send_budget: Arc<SendBudget>,
    /// Transactions whose signatures were checked recently, by txid.
    pub verified_txs: VerifiedTxs,
    /// Whether relays learned from peers may be dialled on this machine's own addresses
    /// (this relay listens on loopback; see [`crate::learned_dial`]).
    pub dial_own_machine: bool,
    next_peer: AtomicU64,
}

impl Shared {
    /// State for a node whose hub listens on `hub`.
    pub fn new(
        hub: mpsc::Sender<HubMsg>,
        cookie: String,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let names = ServedNames::new(None, &limits.allowed_origins, &limits.allowed_hosts);
        let send_budget = SendBudget::new(limits.max_send_total);
        Shared {
            hub,
            cookie,
            bans: Mutex::new(HashMap::new()),
            slots: PeerSlots::new(
                limits.max_peers,
                limits.max_peers_per_ip,
                limits.max_loopback_peers,
            ),
            limits,
            shutdown,
            names,
            send_budget,
            dial_own_machine: true,
            verified_txs: VerifiedTxs::default(),
            next_peer: AtomicU64::new(1),
        }
    }

    /// The same, listening on `local`: learned relays on this machine's own addresses are
    /// dialled only if that is loopback.
    pub fn listening_on(mut self, local: SocketAddr) -> Self {
        self.dial_own_machine = local.ip().is_loopback();
        self
    }

    /// The same, serving `names` (built with the node's `--public-url`).
    pub fn with_names(mut self, names: ServedNames) -> Self {
        self.names = names;
        self
    }

    /// The address a request from TCP peer `peer` with `headers` is charged to.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_address(peer, headers, &self.limits.trusted_proxies)
    }

    /// A fresh handle for a new connection.
    pub fn next_peer_id(&self) -> PeerId {
        self.next_peer.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts an inbound connection from `ip` (see [`PeerSlots::reserve_inbound`]).
    pub fn reserve_inbound(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, SlotRefusal> {
        self.slots.reserve_inbound(ip)
    }

    /// Counts an outbound connection (always allowed: the user asked for it).
    pub fn reserve_outbound(self: &Arc<Self>) -> ConnectionSlot {
        self.slots.reserve_outbound()
    }

    /// Refuses `ip`'s address group for the ban duration; never loopback, whose every tab
    /// of a local browser shares it. Returns whether it was refused.
    pub fn refuse(&self, ip: IpAddr) -> bool {
        let group = address_group(ip);
        if group.is_loopback() {
            return false;
        }
        let mut bans = self
            .bans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bans.insert(group, Instant::now() + self.limits.ban_duration);
        true
    }

    /// Whether `ip` is refused now (never loopback).
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        let group = address_group(ip);
        if group.is_loopback() {
            return false;
        }
        let Ok(mut bans) = self.bans.lock() else {
            return false;
        };
        let now = Instant::now();
        bans.retain(|_, until| *until > now);
        bans.contains_key(&group)
    }
}

/// The routes of a running node.
pub fn router(shared: Arc<Shared>, www: PathBuf) -> Router {
    let files = ServeDir::new(www).append_index_html_on_directories(true);
    Router::new()
        .route("/ws", get(ws_upgrade))
        .route("/status", get(status))
        .route("/control", post(control::handle))
        .fallback_service(files)
        .layer(middleware::from_fn(content_types))
        .layer(middleware::from_fn_with_state(shared.clone(), check_host))
        .with_state(shared)
}

/// Refuses (421) a request addressed to a host name this relay does not serve: a page
/// whose name was rebound to the relay's address (see [`ServedNames`]). A WebSocket
/// handshake without `Origin` is no browser's — browsers always send one — so no page can
/// be behind it: other relays dialling this one by a name it was not told of still pass.
async fn check_host(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST) {
        let from_a_page = req.uri().path() != "/ws" || headers.contains_key(header::ORIGIN);
        let served = host.to_str().is_ok_and(|h| shared.names.serves(h));
        if from_a_page && !served {
            let host = crate::peer_text::shown(&String::from_utf8_lossy(host.as_bytes()));
            tracing::debug!(%host, path = %crate::peer_text::peer_text(req.uri().path()),
                "request for a host name this relay does not serve refused");
            let body = format!(
                "this relay does not serve the host name {host} (it serves {}; see --allow-host)\n",
                shared.names.describe()
            );
            return (StatusCode::MISDIRECTED_REQUEST, body).into_response();
        }
    }
    next.run(req).await
}

/// Whether a browser page from `origin` may open `/ws` on the server reached as `host`:
/// the relay's own page, a page served from localhost / 127.0.0.1 on any port, or one of
/// `extra` (`--allow-origin`; compared without case and without a trailing `/`).
pub fn origin_allowed(origin: &str, host: Option<&str>, extra: &[String]) -> bool {
    if extra
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    if let Some(host) = host {
        if origin.eq_ignore_ascii_case(&format!("http://{host}"))
            || origin.eq_ignore_ascii_case(&format!("https://{host}"))
        {
            return true;
        }
    }
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|base| match origin.strip_prefix(base) {
            Some("") => true,
            Some(rest) => rest
                .strip_prefix(':')
                .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
            None => false,
        })
}

async fn ws_upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The client behind a trusted proxy, else the TCP peer (IPv4 mapped into IPv6 as IPv4).
    let remote = SocketAddr::new(shared.client(remote.ip(), &headers), remote.port());
    let limits = &shared.limits;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let allowed = origin
            .to_str()
            .is_ok_and(|o| origin_allowed(o, host, &limits.allowed_origins));
        if !allowed {
            let origin = crate::peer_text::shown(&String::from_utf8_lossy(origin.as_bytes()));
            tracing::warn!(%remote, %origin, "WebSocket from a foreign origin refused");
            return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
        }
    }
    if shared.is_refused(remote.ip()) {
        tracing::debug!(%remote, "refused address tried to connect");
        return (StatusCode::FORBIDDEN, "address refused for misbehaviour\n").into_response();
    }
    let slot = match shared.reserve_inbound(remote.ip()) {
        Ok(slot) => slot,
        Err(SlotRefusal::Full) => {
            tracing::warn!(%remote, max = limits.max_peers, "peer limit reached; connection refused");
            return (StatusCode::SERVICE_UNAVAILABLE, "too many peers\n").into_response();
        }
        Err(SlotRefusal::AddressFull) => {
            tracing::debug!(%remote, "per-address peer limit reached; connection refused");
            let body = "too many connections from this address\n";
            return (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        }
    };
    // tungstenite refuses a frame whose header announces more than the limit before
    // reading its payload, and a fragmented message as soon as its parts exceed it.
    // A small read buffer: tungstenite's default 128 KiB is allocated (and zeroed, so it is
    // resident) for every connection, 1.3 GB for 10,000 idle tabs; frames larger than the
    // buffer are still read whole.
    ws.max_message_size(limits.max_frame_size)
        .max_frame_size(limits.max_frame_size)
        .read_buffer_size(peer_conn::READ_BUFFER_SIZE)
        .on_upgrade(move |socket| peer_conn::serve_inbound(shared, slot, socket, remote))
}

async fn status(State(shared): State<Arc<Shared>>) -> Result<Json<StatusReport>, StatusCode> {
    let (reply, answer) = oneshot::channel();
    shared
        .hub
        .send(HubMsg::Status { reply })
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    answer
        .await
        .map(Json)
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}

/// Content types the page depends on: browsers compile wasm streaming only when it is
/// served as `application/wasm`, and load module scripts only with a JavaScript type.
async fn content_types(req: Request, next: Next) -> Response {
    let ext = req
        .uri()
        .path()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    let mut res = next.run(req).await;
    if res.status().is_success() {
        let forced = match ext.as_deref() {
            Some("wasm") => Some("application/wasm"),
            Some("js") | Some("mjs") => Some("text/javascript; charset=utf-8"),
            _ => None,
        };
        if let Some(t) = forced {
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
        }
        // The page and its wasm change with every build: always revalidate.
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn own_and_local_origins_pass_others_do_not() {
        let host = Some("127.0.0.1:3000");
        let none: &[String] = &[];
        assert!(origin_allowed("http://127.0.0.1:3000", host, none));
        assert!(origin_allowed("http://localhost:8080", host, none));
        assert!(origin_allowed("http://127.0.0.1:5173", host, none));
        assert!(origin_allowed("http://localhost", host, none));
        assert!(origin_allowed(
            "http://relay.example:3000",
            Some("relay.example:3000"),
            none
        ));
        assert!(!origin_allowed("http://evil.example", host, none));
        assert!(!origin_allowed("http://localhost.evil.example", host, none));
        assert!(!origin_allowed("http://127.0.0.1:3000.evil", host, none));
        assert!(!origin_allowed("null", host, none));
    }

    #[test]
    fn allowed_origins_are_added_exactly() {
        let host = Some("127.0.0.1:3000");
        let extra = vec![
            "https://wallet.example/".to_string(),
            "http://10.0.0.5:8080".to_string(),
        ];
        assert!(origin_allowed("https://wallet.example", host, &extra));
        assert!(origin_allowed("HTTPS://Wallet.Example", host, &extra));
        assert!(origin_allowed("http://10.0.0.5:8080", host, &extra));
        assert!(!origin_allowed("http://wallet.example", host, &extra));
        assert!(!origin_allowed("https://wallet.example.evil", host, &extra));
        assert!(!origin_allowed("http://10.0.0.5:8081", host, &extra));
        assert!(origin_allowed("http://localhost:1", host, &extra));
    }

    fn shared(limits: Limits) -> Arc<Shared> {
        let (hub, _) = mpsc::channel(1);
        let (_, stop) = watch::channel(false);
        Arc::new(Shared::new(hub, "cookie".into(), limits, stop))
    }

    #[test]
    fn misbehaving_ipv6_peers_are_refused_per_64_and_loopback_never() {
        let s = shared(Limits::default());
        let host = |last| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
        let elsewhere = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(s.refuse(host(7)));
        assert!(s.is_refused(host(8)), "the whole /64 is refused");
        assert!(!s.is_refused(elsewhere));
        assert!(!s.refuse(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(!s.is_refused(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
