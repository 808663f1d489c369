//! The network lab's endpoints (the page is `www/lab/`): what the lab asks of the central node
//! while it plays the seed's scenario — its address, a payment from it mined at once, a
//! balance — the faults it puts on its nodes' links ([`lab_link`]), and a restart of the
//! relay itself ([`lab_restart`]); nothing else.
//!
//! Who may ask: loopback callers only (as `/control`), and only with the lab key. The key is
//! not the control cookie but derived from it ([`lab_key`]), so a leaked lab key commands no
//! more than the lab's few actions. `GET /lab/key` hands it to loopback callers: a page of
//! another site open in the same browser cannot read that answer (no CORS header is sent),
//! and a name rebound to 127.0.0.1 is refused before it gets here (`check_host`), so the key
//! is what keeps other sites' forged POSTs out, and loopback is what keeps the network out.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use node_core::primitives::hash::sha256;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::lab_link::{self, LinkFault, LinkTable};
use super::lab_restart::{self, RestartHook};
use crate::commands::Request;
use crate::hub::HubMsg;
use crate::net::Shared;

/// Largest lab request read: an action and one or two addresses.
pub const MAX_LAB_REQUEST_BYTES: usize = 4 * 1024;

/// Most coins one `fund` action sends: the lab demonstrates, it does not drain the wallet.
pub const MAX_FUND_AMOUNT: u64 = 100;

/// Separates the lab key's derivation from any other use of the cookie.
const LAB_KEY_CONTEXT: &[u8] = b"blockchain network lab key v1\0";

/// The lab's routes, with the faults on its links (one table per running relay).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/lab", get(redirect))
        .route("/lab/key", get(key))
        .route("/lab/api", post(api))
        .route("/lab/link/{node}", get(lab_link::link))
        .layer(Extension(Arc::new(LinkTable::default())))
}

/// The lab key of a node whose control cookie is `cookie`: SHA-256 of a fixed context and the
/// cookie, in hex. A restart writes a new cookie, so the key changes with it.
pub fn lab_key(cookie: &str) -> String {
    let mut input = LAB_KEY_CONTEXT.to_vec();
    input.extend_from_slice(cookie.as_bytes());
    sha256(&input)
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the lab may ask of the central node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum LabAction {
    /// The central node's first wallet address (CENTRAL, whom the genesis paid).
    Central,
    /// CENTRAL pays `amount` to `to`, mined at once (the seed's `send --mine`).
    Fund {
        /// Any address.
        to: String,
        /// Coins, 1 to [`MAX_FUND_AMOUNT`].
        amount: u64,
    },
    /// The central node's confirmed balance of `address`.
    Balance {
        /// Whose.
        address: String,
    },
    /// Slows, drops or takes down node `node`'s lab link (all fields off: the link is whole).
    Link {
        /// The node id.
        node: String,
        /// What to do to it.
        #[serde(flatten)]
        fault: LinkFault,
    },
    /// Every lab link down (`down: true`: the relay out, for the lab's nodes) or up again.
    Outage {
        /// Down or up.
        down: bool,
    },
    /// The faults on the links now.
    Links,
    /// The relay stops as on a signal, stays down `down_seconds`, and starts again from
    /// its database (with a new cookie, so a new lab key).
    Restart {
        /// Seconds down, 0 to [`lab_restart::MAX_RESTART_DOWN_SECS`].
        #[serde(rename = "downSeconds")]
        down_seconds: u64,
    },
}

/// What the lab endpoint answers: the action's output or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabReply {
    /// The result (an address, a balance, the command's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn reply(status: StatusCode, output: Option<String>, error: Option<String>) -> Response {
    let mut res = (status, Json(LabReply { output, error })).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refuse(status: StatusCode, why: &str) -> Response {
    reply(status, None, Some(why.into()))
}

/// `GET /lab`: the page lives at `/lab/` so its relative links resolve under it; the
/// query (`?nodes=3`) goes along.
pub async fn redirect(uri: Uri) -> Response {
    let to = match uri.query() {
        Some(q) => format!("/lab/?{q}"),
        None => "/lab/".to_string(),
    };
    match HeaderValue::try_from(to) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => refuse(StatusCode::BAD_REQUEST, "bad query"),
    }
}

/// `GET /lab/key`: the lab key, to loopback callers only.
pub async fn key(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !shared.client(peer.ip(), &headers).is_loopback() {
        return refuse(StatusCode::FORBIDDEN, "the lab is only served on loopback");
    }
    reply(StatusCode::OK, Some(lab_key(&shared.cookie)), None)
}

/// `POST /lab/api`: one [`LabAction`], from a loopback caller holding the lab key.
pub async fn api(
    State(shared): State<Arc<Shared>>,
    Extension(links): Extension<Arc<LinkTable>>,
    restart: Option<Extension<RestartHook>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if !shared.client(peer.ip(), &headers).is_loopback() {
        return refuse(StatusCode::FORBIDDEN, "the lab is only served on loopback");
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = lab_key(&shared.cookie);
    if !same_secret(token.as_bytes(), expected.as_bytes()) {
        return refuse(StatusCode::FORBIDDEN, "wrong or missing lab key");
    }
    let read = Limited::new(body, MAX_LAB_REQUEST_BYTES).collect();
    let body = match tokio::time::timeout(super::control::REQUEST_READ_TIMEOUT, read).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("a lab request is at most {MAX_LAB_REQUEST_BYTES} bytes"),
            )
        }
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "request body not sent in time"),
    };
    let action: LabAction = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
    };
    if let LabAction::Restart { down_seconds } = action {
        let asked = match restart {
            Some(Extension(hook)) => hook.request(down_seconds),
            None => Err(lab_restart::RestartError::NotRunning),
        };
        return match asked {
            Ok(()) => {
                tracing::info!(down_seconds, "lab: the relay restarts");
                let said = format!("the relay stops now and starts again in {down_seconds} s");
                reply(StatusCode::OK, Some(said), None)
            }
            Err(e @ lab_restart::RestartError::TooLong) => {
                refuse(StatusCode::BAD_REQUEST, &e.to_string())
            }
            Err(e) => refuse(StatusCode::CONFLICT, &e.to_string()),
        };
    }
    match run(&shared, &links, action).await {
        Ok(output) => reply(StatusCode::OK, Some(output), None),
        Err((status, why)) => refuse(status, &why),
    }
}

/// Carries out `action` through the hub's control path; the answer, trimmed.
async fn run(
    shared: &Shared,
    links: &LinkTable,
    action: LabAction,
) -> Result<String, (StatusCode, String)> {
    match action {
        LabAction::Link { node, fault } => {
            let bad = |e: lab_link::LinkError| (StatusCode::BAD_REQUEST, e.to_string());
            links.set(&node, fault).map_err(bad)?;
            Ok(links.view().to_string())
        }
        LabAction::Outage { down } => {
            links.set_outage(down);
            Ok(links.view().to_string())
        }
        LabAction::Links => Ok(links.view().to_string()),
        LabAction::Restart { .. } => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "a restart is not a hub command".into(),
        )),
        LabAction::Central => central(shared).await,
        LabAction::Fund { to, amount } => {
            if amount == 0 || amount > MAX_FUND_AMOUNT {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("amount must be 1 to {MAX_FUND_AMOUNT}"),
                ));
            }
            let from = central(shared).await?;
            let request = Request::Send {
                from,
                to,
                amount,
                mine: true,
                relay: String::new(),
            };
            control(shared, request).await
        }
        LabAction::Balance { address } => {
            let out = control(shared, Request::GetBalance { address }).await?;
            // "Balance of 'ADDRESS': N" — the number alone.
            out.rsplit_once(": ")
                .map(|(_, n)| n.trim().to_string())
                .ok_or((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("unexpected balance output {out:?}"),
                ))
        }
    }
}

/// CENTRAL: the central wallet's first address.
async fn central(shared: &Shared) -> Result<String, (StatusCode, String)> {
    let list = control(shared, Request::ListAddresses).await?;
    list.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or((
            StatusCode::UNPROCESSABLE_ENTITY,
            "the central node has no wallet address: run `relay-server createwallet`".into(),
        ))
}

/// One command through the hub, as `/control` runs it.
async fn control(shared: &Shared, request: Request) -> Result<String, (StatusCode, String)> {
    let gone = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "node is shutting down".to_string(),
        )
    };
    let (tx, rx) = oneshot::channel();
    shared
        .hub
        .send(HubMsg::Control { request, reply: tx })
        .await
        .map_err(|_| gone())?;
    match rx.await {
        Ok(Ok(output)) => Ok(output.trim().to_string()),
        Ok(Err(e)) => Err((StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
        Err(_) => Err(gone()),
    }
}

/// Compares two secrets without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_key_is_not_the_cookie_and_follows_it() {
        let a = lab_key("cookie-a");
        assert_eq!(a.len(), 64);
        assert_ne!(a, "cookie-a");
        assert_eq!(a, lab_key("cookie-a"));
        assert_ne!(a, lab_key("cookie-b"));
    }

    #[test]
    fn only_the_labs_actions_parse() {
        let fund: LabAction =
            serde_json::from_str(r#"{"action":"fund","to":"1abc","amount":10}"#).expect("fund");
        assert_eq!(
            fund,
            LabAction::Fund {
                to: "1abc".into(),
                amount: 10
            }
        );
        let link: LabAction =
            serde_json::from_str(r#"{"action":"link","node":"4002","delayMs":500}"#).expect("link");
        assert_eq!(
            link,
            LabAction::Link {
                node: "4002".into(),
                fault: LinkFault {
                    delay_ms: 500,
                    ..LinkFault::default()
                }
            }
        );
        assert!(serde_json::from_str::<LabAction>(r#"{"action":"createblockchain"}"#).is_err());
        assert!(serde_json::from_str::<LabAction>(r#"{"command":"listaddresses"}"#).is_err());
    }
}
