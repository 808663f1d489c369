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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use node_core::peer::PeerId;
use node_core::protocol::MAX_FRAME_SIZE;
use tokio::sync::{mpsc, oneshot, watch};
use tower_http::services::ServeDir;

use crate::control;
use crate::hub::{HubMsg, StatusReport};
use crate::peer_conn;

/// State shared by the HTTP handlers and the connection tasks.
pub struct Shared {
    /// The hub's inbox.
    pub hub: mpsc::Sender<HubMsg>,
    /// The control endpoint's secret.
    pub cookie: String,
    /// Addresses refused until the given instant.
    pub bans: Mutex<HashMap<IpAddr, Instant>>,
    /// Open WebSocket connections, both directions.
    pub connections: AtomicUsize,
    /// Most inbound connections accepted at once.
    pub max_peers: usize,
    /// Raised once when the node stops.
    pub shutdown: watch::Receiver<bool>,
    next_peer: AtomicU64,
}

impl Shared {
    /// State for a node whose hub listens on `hub`.
    pub fn new(
        hub: mpsc::Sender<HubMsg>,
        cookie: String,
        max_peers: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Shared {
            hub,
            cookie,
            bans: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            max_peers,
            shutdown,
            next_peer: AtomicU64::new(1),
        }
    }

    /// A fresh handle for a new connection.
    pub fn next_peer_id(&self) -> PeerId {
        self.next_peer.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts an inbound connection, unless there are `max_peers` already.
    pub fn reserve_inbound(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let before = self.connections.fetch_add(1, Ordering::AcqRel);
        if before >= self.max_peers {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot(self.clone()))
    }

    /// Counts an outbound connection (always allowed: the user asked for it).
    pub fn reserve_outbound(self: &Arc<Self>) -> ConnectionSlot {
        self.connections.fetch_add(1, Ordering::AcqRel);
        ConnectionSlot(self.clone())
    }

    /// Whether `ip` is refused now (never loopback).
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        if ip.is_loopback() {
            return false;
        }
        let Ok(mut bans) = self.bans.lock() else {
            return false;
        };
        let now = Instant::now();
        bans.retain(|_, until| *until > now);
        bans.contains_key(&ip)
    }
}

/// One counted connection; the count goes down when it is dropped, however the
/// connection ends (an upgrade that fails drops it too).
pub struct ConnectionSlot(Arc<Shared>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
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
        .with_state(shared)
}

/// Whether a browser page from `origin` may open `/ws` on the server reached as `host`:
/// the relay's own page, or a page served from localhost / 127.0.0.1 on any port.
pub fn origin_allowed(origin: &str, host: Option<&str>) -> bool {
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
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let allowed = origin.to_str().is_ok_and(|o| origin_allowed(o, host));
        if !allowed {
            tracing::warn!(%remote, ?origin, "WebSocket from a foreign origin refused");
            return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
        }
    }
    if shared.is_refused(remote.ip()) {
        tracing::debug!(%remote, "refused address tried to connect");
        return (StatusCode::FORBIDDEN, "address refused for misbehaviour\n").into_response();
    }
    let Some(slot) = shared.reserve_inbound() else {
        tracing::warn!(%remote, max = shared.max_peers, "peer limit reached; connection refused");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many peers\n").into_response();
    };
    ws.max_message_size(MAX_FRAME_SIZE)
        .max_frame_size(MAX_FRAME_SIZE)
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

    #[test]
    fn own_and_local_origins_pass_others_do_not() {
        let host = Some("127.0.0.1:3000");
        assert!(origin_allowed("http://127.0.0.1:3000", host));
        assert!(origin_allowed("http://localhost:8080", host));
        assert!(origin_allowed("http://127.0.0.1:5173", host));
        assert!(origin_allowed("http://localhost", host));
        assert!(origin_allowed(
            "http://relay.example:3000",
            Some("relay.example:3000")
        ));
        assert!(!origin_allowed("http://evil.example", host));
        assert!(!origin_allowed("http://localhost.evil.example", host));
        assert!(!origin_allowed("http://127.0.0.1:3000.evil", host));
        assert!(!origin_allowed("null", host));
    }
}
