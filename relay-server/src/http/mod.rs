//! HTTP on one port: the page ([`page`]: embedded, or files from `--www`), the node protocol (WebSocket on
//! `/ws`, [`ws_route`]), `GET /status` ([`status`]), and the loopback-only `POST /control`
//! ([`control`]); every TCP connection counted and timed out before it is anything
//! ([`conns`]).
//!
//! Serving the page and the protocol from the same origin is what lets a tab at
//! `http://127.0.0.1:3000/?node=3001` connect without any cross-origin set-up; it is also why
//! `/ws` checks `Origin`: another site open in the same browser must not be able to drive a
//! local node through the user's tabs.
//!
//! May depend on: `net`, `hub` (messages), `admission`, `metrics`, `commands` (the control endpoint's
//! `Request`), `paths`, `util`.

pub mod conns;
pub mod control;
pub mod health;
pub mod lab;
pub mod lab_link;
pub mod lab_restart;
pub mod page;
pub mod status;
pub mod ws_route;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::net::Shared;

/// The routes of a running node.
pub fn router(shared: Arc<Shared>, page: &page::PageSource) -> Router {
    let routes = Router::new()
        .route("/ws", get(ws_route::ws_upgrade))
        .route("/status", get(status::status))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/control", post(control::handle))
        .merge(lab::routes());
    page.serve(routes)
        .layer(middleware::from_fn(content_types))
        .layer(middleware::from_fn_with_state(shared.clone(), check_host))
        .with_state(shared)
}

/// Refuses (421) a request addressed to a host name this relay does not serve: a page
/// whose name was rebound to the relay's address (see [`ServedNames`](crate::admission::ServedNames)). A WebSocket
/// handshake without `Origin` is no browser's — browsers always send one — so no page can
/// be behind it: other relays dialling this one by a name it was not told of still pass.
async fn check_host(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST) {
        let from_a_page = req.uri().path() != "/ws" || headers.contains_key(header::ORIGIN);
        let served = host.to_str().is_ok_and(|h| shared.names.serves(h));
        if from_a_page && !served {
            let host = crate::util::peer_text::shown(&String::from_utf8_lossy(host.as_bytes()));
            tracing::debug!(%host, path = %crate::util::peer_text::peer_text(req.uri().path()),
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
