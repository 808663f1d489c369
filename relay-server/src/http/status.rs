//! `GET /status`: the node's summary as JSON, asked of the hub.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tokio::sync::oneshot;

use crate::hub::{HubMsg, StatusReport};
use crate::net::Shared;

/// `GET /status`: the node's summary, from the hub.
pub async fn status(State(shared): State<Arc<Shared>>) -> Result<Json<StatusReport>, StatusCode> {
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
