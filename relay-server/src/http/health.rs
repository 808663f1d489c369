//! What an operator's tools ask: `GET /livez` (the process serves and its hub answers),
//! `GET /readyz` (and a chain is loaded: a relay still downloading its first chain from
//! `--peer` is alive but not ready), and `GET /metrics` (Prometheus text, [`crate::metrics`]).
//!
//! `/livez` and `/readyz` are served on the main port too (a container's health check, a
//! load balancer); `/metrics` only on the metrics address ([`observe_router`]), loopback
//! unless the operator chooses otherwise.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use crate::hub::HubMsg;
use crate::metrics::{resident_memory_bytes, text, Gauges};
use crate::net::Shared;

/// How long the hub may take to answer a probe: it answers between two messages, so longer
/// means it is stuck (a storage call that does not return, say).
const HUB_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The node's gauges, or `None` if the hub does not answer in time.
async fn gauges(shared: &Shared) -> Option<Gauges> {
    let (reply, answer) = oneshot::channel();
    let asked = async {
        shared.hub.send(HubMsg::Gauges { reply }).await.ok()?;
        answer.await.ok()
    };
    tokio::time::timeout(HUB_ANSWER_TIMEOUT, asked)
        .await
        .ok()
        .flatten()
}

/// `GET /livez`.
pub async fn livez(State(shared): State<Arc<Shared>>) -> Response {
    match gauges(&shared).await {
        Some(_) => (StatusCode::OK, "alive\n").into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "the hub does not answer\n").into_response(),
    }
}

/// `GET /readyz`.
pub async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match gauges(&shared).await {
        Some(g) if g.has_chain => (StatusCode::OK, "ready\n").into_response(),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no chain yet (downloading it from --peer)\n",
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "the hub does not answer\n").into_response(),
    }
}

/// `GET /metrics`.
pub async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let g = gauges(&shared).await;
    let body = text::render(&shared.metrics, g.as_ref(), resident_memory_bytes());
    ([(header::CONTENT_TYPE, text::CONTENT_TYPE)], body).into_response()
}

/// The routes of the metrics address.
pub fn observe_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .fallback(|| async { (StatusCode::NOT_FOUND, "try /metrics, /livez or /readyz\n") })
        .with_state(shared)
}
