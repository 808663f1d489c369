//! The lab's links: `GET /lab/link/{node}` is `/ws` with a hand on the wire. A lab node
//! connects through it, and the lab can then slow its messages down, drop them, close the
//! link and refuse it (the node cut off by the relay's side), or take every lab link down at
//! once (the relay out, as the lab's nodes see it), or forge the next block it sends (a
//! hostile relay: the node must refuse it, say why, and score the peer). The connection
//! behind it is the relay's own ([`connection::run`]): the node is a peer like any other;
//! only the frames between them are held back, lost or forged.
//!
//! Loopback callers only, from an allowed origin, as `/ws` and the rest of the lab.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::{future, stream, SinkExt, StreamExt};
use node_core::consensus::pow;
use node_core::protocol::{decode_frame, encode_frame, frame_command, Message};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::ws_route::origin_allowed;
use crate::admission::ConnectionSlot;
use crate::net::ws::{adapt_inbound, Incoming, Outgoing, WriteError, READ_BUFFER_SIZE};
use crate::net::{connection, Shared};

/// Longest delay the lab may put on a link: long enough to watch, short of the peers'
/// own timeouts.
pub const MAX_LINK_DELAY_MS: u64 = 10_000;

/// Most links the table remembers faults for: the lab runs a handful of nodes.
pub const MAX_LINKS: usize = 64;

/// Longest node id, as the node page allows.
const MAX_NODE_ID: usize = 32;

/// What the lab does to one node's link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFault {
    /// Each frame, either way, waits this long before it is passed on.
    #[serde(default, rename = "delayMs")]
    pub delay_ms: u64,
    /// Frames either way are lost (the connection stays open).
    #[serde(default)]
    pub drop: bool,
    /// The link is closed and refused.
    #[serde(default)]
    pub down: bool,
    /// The next block sent to the node is forged (its nonce changed until its proof of
    /// work fails): the relay turned hostile, once. Cleared when used.
    #[serde(default)]
    pub forge: bool,
}

/// Why a fault was not set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// Not a node id the page accepts.
    #[error("node id must be 1 to {MAX_NODE_ID} letters, digits, '-' or '_'")]
    BadNodeId,
    /// Past [`MAX_LINK_DELAY_MS`].
    #[error("delay must be at most {MAX_LINK_DELAY_MS} ms")]
    DelayTooLong,
    /// [`MAX_LINKS`] links have faults already.
    #[error("at most {MAX_LINKS} links may have faults")]
    TooMany,
}

#[derive(Default)]
struct LinkState {
    faults: HashMap<String, LinkFault>,
    /// Every lab link down at once: the relay out, for the lab's nodes.
    outage: bool,
}

/// The faults on the lab's links; every link task watches it.
pub struct LinkTable {
    state: Mutex<LinkState>,
    changed: watch::Sender<u64>,
}

impl Default for LinkTable {
    fn default() -> Self {
        LinkTable {
            state: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }
}

/// Whether `id` is a node id the page accepts (and so a safe map key and log field).
pub fn valid_node_id(id: &str) -> bool {
    (1..=MAX_NODE_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl LinkTable {
    fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault on `id`'s link now (down during an outage).
    pub fn fault(&self, id: &str) -> LinkFault {
        let s = self.state();
        let mut f = s.faults.get(id).copied().unwrap_or_default();
        f.down |= s.outage;
        f
    }

    /// Sets the fault on `id`'s link; a link with no fault left is forgotten.
    pub fn set(&self, id: &str, fault: LinkFault) -> Result<(), LinkError> {
        if !valid_node_id(id) {
            return Err(LinkError::BadNodeId);
        }
        if fault.delay_ms > MAX_LINK_DELAY_MS {
            return Err(LinkError::DelayTooLong);
        }
        {
            let mut s = self.state();
            if fault == LinkFault::default() {
                s.faults.remove(id);
            } else {
                if !s.faults.contains_key(id) && s.faults.len() >= MAX_LINKS {
                    return Err(LinkError::TooMany);
                }
                s.faults.insert(id.to_string(), fault);
            }
        }
        self.changed.send_modify(|g| *g += 1);
        Ok(())
    }

    /// Whether the next block to `id` is to be forged; clears the wish.
    fn take_forge(&self, id: &str) -> bool {
        let mut s = self.state();
        let Some(f) = s.faults.get_mut(id).filter(|f| f.forge) else {
            return false;
        };
        f.forge = false;
        if *f == LinkFault::default() {
            s.faults.remove(id);
        }
        true
    }

    /// Takes every lab link down (`true`) or lets them up again.
    pub fn set_outage(&self, down: bool) {
        self.state().outage = down;
        self.changed.send_modify(|g| *g += 1);
    }

    /// The faults now, for the lab page: `{outage, links: {id: fault}}`.
    pub fn view(&self) -> serde_json::Value {
        let s = self.state();
        serde_json::json!({ "outage": s.outage, "links": s.faults })
    }

    /// Resolves when `id`'s link goes down.
    fn until_down(self: &Arc<Self>, id: String) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.changed.subscribe();
        let table = self.clone();
        async move {
            loop {
                if table.fault(&id).down {
                    return;
                }
                if rx.changed().await.is_err() {
                    return future::pending().await;
                }
            }
        }
    }
}

/// `GET /lab/link/{node}`: a lab node's WebSocket to this relay, through the lab's hand.
pub async fn link(
    State(shared): State<Arc<Shared>>,
    Extension(table): Extension<Arc<LinkTable>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(node): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let remote = SocketAddr::new(shared.client(remote.ip(), &headers), remote.port());
    if !remote.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "the lab is only served on loopback\n",
        )
            .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let allowed = origin
            .to_str()
            .is_ok_and(|o| origin_allowed(o, host, &shared.limits.allowed_origins));
        if !allowed {
            return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
        }
    }
    if !valid_node_id(&node) {
        return (StatusCode::BAD_REQUEST, "bad node id\n").into_response();
    }
    if table.fault(&node).down {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the lab took this link down\n",
        )
            .into_response();
    }
    let Ok(slot) = shared.reserve_inbound(remote.ip()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many peers\n").into_response();
    };
    let max = shared.limits.max_frame_size;
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER_SIZE)
        .on_upgrade(move |socket| serve(shared, table, slot, socket, remote, node))
}

/// Runs the node's connection with the link's faults applied to every frame.
async fn serve(
    shared: Arc<Shared>,
    table: Arc<LinkTable>,
    slot: ConnectionSlot,
    socket: WebSocket,
    remote: SocketAddr,
    node: String,
) {
    let (stream, sink) = adapt_inbound(socket, shared.limits.max_frame_size);
    let (t_in, id_in) = (table.clone(), node.clone());
    let (t_drop, id_drop) = (table.clone(), node.clone());
    let stream = stream
        .then(move |item| {
            let delay = t_in.fault(&id_in).delay_ms;
            async move {
                if matches!(item, Incoming::Frame(_)) && delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                item
            }
        })
        .filter(move |item| {
            future::ready(!(matches!(item, Incoming::Frame(_)) && t_drop.fault(&id_drop).drop))
        })
        .take_until(table.until_down(node.clone()));
    let (t_out, id_out) = (table.clone(), node.clone());
    let (t_lose, id_lose) = (table.clone(), node.clone());
    let sink = sink
        .with(move |o: Outgoing| {
            let delay = t_out.fault(&id_out).delay_ms;
            async move {
                if matches!(o, Outgoing::Frame(_)) && delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                Ok::<_, WriteError>(o)
            }
        })
        .with_flat_map(move |o: Outgoing| {
            let o = match o {
                Outgoing::Frame(f)
                    if frame_command(&f) == Ok("block") && t_lose.take_forge(&id_lose) =>
                {
                    tracing::info!(node = %id_lose, "lab: a forged block sent");
                    Outgoing::Frame(forged(&f).into())
                }
                o => o,
            };
            let lost = matches!(o, Outgoing::Frame(_)) && t_lose.fault(&id_lose).drop;
            stream::iter(if lost { Vec::new() } else { vec![Ok(o)] })
        });
    let end = connection::run(
        shared,
        slot,
        None,
        remote.ip(),
        Box::pin(stream),
        Box::pin(sink),
    )
    .await;
    tracing::debug!(%node, reason = %end, "lab link ended");
}

/// `frame`'s block with its nonce changed until its proof of work fails (any other frame
/// as it is): what a hostile peer would send.
fn forged(frame: &[u8]) -> Vec<u8> {
    let Ok(Message::Block(mut block)) = decode_frame(frame) else {
        return frame.to_vec();
    };
    loop {
        block.header.nonce = block.header.nonce.wrapping_add(1);
        if !pow::meets_target(&block.hash(), block.header.bits) {
            break;
        }
    }
    encode_frame(&Message::Block(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_bounded_and_an_outage_downs_every_link() {
        let t = LinkTable::default();
        assert_eq!(
            t.set("a b", LinkFault::default()),
            Err(LinkError::BadNodeId)
        );
        let slow = LinkFault {
            delay_ms: MAX_LINK_DELAY_MS + 1,
            ..LinkFault::default()
        };
        assert_eq!(t.set("4001", slow), Err(LinkError::DelayTooLong));
        let lossy = LinkFault {
            drop: true,
            ..LinkFault::default()
        };
        assert_eq!(t.set("4001", lossy), Ok(()));
        assert!(t.fault("4001").drop && !t.fault("4001").down);
        t.set_outage(true);
        assert!(t.fault("4002").down && t.fault("4001").down);
        t.set_outage(false);
        assert!(!t.fault("4002").down);
        assert_eq!(t.set("4001", LinkFault::default()), Ok(()));
        assert_eq!(t.view()["links"], serde_json::json!({}));
        for i in 0..MAX_LINKS {
            assert_eq!(t.set(&format!("n{i}"), lossy), Ok(()));
        }
        assert_eq!(t.set("one-more", lossy), Err(LinkError::TooMany));
    }

    #[test]
    fn a_forge_is_used_once() {
        let t = LinkTable::default();
        let forge = LinkFault {
            forge: true,
            ..LinkFault::default()
        };
        assert_eq!(t.set("4002", forge), Ok(()));
        assert!(!t.take_forge("4001"));
        assert!(t.take_forge("4002"));
        assert!(!t.take_forge("4002"));
        assert_eq!(t.view()["links"], serde_json::json!({}));
    }
}
