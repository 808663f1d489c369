//! One task per WebSocket connection, inbound (axum) or outbound (`--peer`, tokio-tungstenite).
//!
//! Both kinds are adapted to the same [`Incoming`] stream and [`Outgoing`] sink and run by
//! [`run`]: frames read go to the hub (awaiting it, so a busy hub slows the readers rather
//! than growing a queue), frames the hub queued are written, and the connection ends when
//! the socket closes, the peer goes over its frame rate, the hub says so, or the node stops.
//! Outbound connections are redialled with exponential backoff.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame as AxCloseFrame, Message as AxMessage, WebSocket};
use bytes::Bytes;
use futures_util::{future, Sink, SinkExt, Stream, StreamExt};
use node_core::protocol::MAX_FRAME_SIZE;
use tokio::sync::{oneshot, Semaphore};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::MaybeTlsStream;

use crate::hub::{HubMsg, PeerLink};
use crate::learned_dial;
use crate::peer_text::peer_text;
use crate::rate_limit::TokenBucket;
use crate::send_queue::{SendQueue, PAUSE_READING_BYTES};
use crate::server::{ConnectionSlot, Shared};
use crate::verified_txs::VerifiedTxs;

/// `getdata`s one connection may have waiting in the hub's inbox or being handled there:
/// what a peer can ask for before the answers to its first requests are counted in its send
/// queue (and reading from it pauses, see [`PAUSE_READING_BYTES`]). Only `getdata` is held
/// back: its answers are blocks of up to 1 MiB each, the answers to anything else are small,
/// and other frames must reach the rate limit at the speed the peer sends them.
pub const IN_HUB_FRAMES: usize = 16;
/// Longest wait between two dials of an outbound peer.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
const MIN_BACKOFF: Duration = Duration::from_millis(250);

/// What the socket delivered.
pub enum Incoming {
    /// A message for the node (binary; text is passed on too, and refused by the node).
    Frame(Bytes),
    /// Control traffic the WebSocket layer handles itself.
    Ignore,
    /// The peer closed the connection.
    Closed(String),
    /// Reading failed.
    Failed {
        /// What went wrong.
        reason: String,
        /// Whether the peer broke a rule (an oversized frame).
        misbehaved: bool,
    },
}

/// What to write.
pub enum Outgoing {
    /// A protocol frame.
    Frame(Bytes),
    /// A close frame with a reason.
    Close(String),
}

/// How a connection ended.
#[derive(Debug)]
pub struct Ended {
    /// Why.
    pub reason: String,
    /// Whether the peer broke a rule.
    pub misbehaved: bool,
}

impl Ended {
    fn new(reason: impl Into<String>, misbehaved: bool) -> Self {
        Ended {
            reason: reason.into(),
            misbehaved,
        }
    }
}

/// Close reasons must fit a WebSocket close frame (123 bytes).
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// Sorts read errors: an oversized frame is the peer's fault, a reset is not.
fn read_failure(error: String, max_frame_size: usize) -> Incoming {
    let lower = error.to_ascii_lowercase();
    let oversized = lower.contains("too long") || lower.contains("space limit");
    if oversized {
        Incoming::Failed {
            reason: format!("frame over the {max_frame_size}-byte limit"),
            misbehaved: true,
        }
    } else {
        Incoming::Failed {
            reason: error,
            misbehaved: false,
        }
    }
}

/// Runs one connection until it ends, registered with the hub for its whole life.
/// `dialled` is, for a connection we opened, the URL and whether the operator named it.
pub async fn run<St, Si>(
    shared: Arc<Shared>,
    slot: ConnectionSlot,
    dialled: Option<(String, bool)>,
    ip: IpAddr,
    mut stream: St,
    mut sink: Si,
) -> Ended
where
    St: Stream<Item = Incoming> + Unpin,
    Si: Sink<Outgoing, Error = String> + Unpin,
{
    let peer = shared.next_peer_id();
    let queue = SendQueue::new(shared.limits.max_send_queue, shared.send_budget.clone());
    let in_hub = Arc::new(Semaphore::new(IN_HUB_FRAMES));
    let (close_tx, close_rx) = oneshot::channel::<String>();
    let link = PeerLink {
        queue: queue.clone(),
        close: close_tx,
        handshaken: slot.handshaken(),
    };
    let connected = HubMsg::Connected {
        peer,
        outbound: dialled.is_some(),
        ip,
        link,
        dialled,
    };
    if shared.hub.send(connected).await.is_err() {
        return Ended::new("node shutting down", false);
    }
    let mut shutdown = shared.shutdown.clone();
    // How it ended, the close frame to send (if any), and whether the hub already knows.
    let (ended, close_with, hub_knows) = {
        let hub = shared.hub.clone();
        let reader = async {
            let (rate, burst) = (shared.limits.rate_per_sec, shared.limits.rate_burst);
            let mut bucket = TokenBucket::new(rate, burst, Instant::now());
            loop {
                // Nothing more is read from a peer that has not read the answers it asked
                // for: its further requests wait in its own socket.
                queue.wait_below(PAUSE_READING_BYTES).await;
                match stream.next().await {
                    Some(Incoming::Frame(bytes)) => {
                        if !bucket.take(Instant::now()) {
                            let reason = format!("over the rate limit of {rate} frames/s");
                            return (Ended::new(&reason, true), Some(reason));
                        }
                        let permit = if is_getdata(&bytes) {
                            let Ok(permit) = in_hub.clone().acquire_owned().await else {
                                return (Ended::new("node shutting down", false), None);
                            };
                            // Its earlier requests' answers are counted now.
                            queue.wait_below(PAUSE_READING_BYTES).await;
                            Some(permit)
                        } else {
                            None
                        };
                        let verified_tx = match verified_transaction(&shared.verified_txs, &bytes) {
                            Ok(txid) => txid,
                            Err(e) => {
                                // Provably bad whatever the chain holds: charged here, before
                                // the hub's cheaper checks could let it wait as an orphan and
                                // the next one cost us another ECDSA check.
                                let reason = format!("invalid tx: {e}");
                                return (Ended::new(&reason, true), Some(reason));
                            }
                        };
                        let frame = HubMsg::Frame {
                            peer,
                            bytes,
                            verified_tx,
                            held: permit,
                        };
                        if hub.send(frame).await.is_err() {
                            return (Ended::new("node shutting down", false), None);
                        }
                    }
                    Some(Incoming::Ignore) => {}
                    Some(Incoming::Closed(why)) if why.is_empty() => {
                        return (Ended::new("closed by the peer", false), None)
                    }
                    Some(Incoming::Closed(why)) => {
                        let reason = format!("closed by the peer: {why}");
                        return (Ended::new(reason, false), None);
                    }
                    Some(Incoming::Failed { reason, misbehaved }) => {
                        let close = misbehaved.then(|| reason.clone());
                        return (Ended::new(reason, misbehaved), close);
                    }
                    None => return (Ended::new("connection lost", false), None),
                }
            }
        };
        let write_timeout = shared.limits.write_timeout;
        let writer = async {
            while let Some(frame) = queue.next().await {
                let len = frame.len();
                let written =
                    tokio::time::timeout(write_timeout, sink.send(Outgoing::Frame(frame))).await;
                queue.written(len);
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ended::new(format!("write failed: {e}"), false),
                    Err(_) => {
                        let secs = write_timeout.as_secs();
                        let reason =
                            format!("a frame took over {secs} s to write: the peer does not read");
                        return Ended::new(reason, false);
                    }
                }
            }
            Ended::new("dropped by the node", false)
        };
        tokio::pin!(reader, writer);
        // The hub's word comes first: when it drops a peer, its frame queue closes too.
        tokio::select! {
            biased;
            why = close_rx => match why {
                Ok(reason) => (Ended::new(&reason, false), Some(reason), true),
                Err(_) => (Ended::new("dropped by the node", false), None, true),
            },
            _ = shutdown.wait_for(|stop| *stop) => {
                let reason = "node shutting down";
                (Ended::new(reason, false), Some(reason.to_string()), true)
            }
            _ = slot.evicted() => {
                let reason = "no handshake while the relay was full: closed to make room";
                (Ended::new(reason, false), Some(reason.to_string()), false)
            }
            (ended, close) = &mut reader => (ended, close, false),
            ended = &mut writer => (ended, None, false),
        }
    };
    queue.close();
    if hub_knows {
        // Frames the node queued before dropping the peer (a `reject`, say) still go out.
        let flush = async {
            while let Some(frame) = queue.next().await {
                let len = frame.len();
                let sent = sink.send(Outgoing::Frame(frame)).await;
                queue.written(len);
                if sent.is_err() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), flush).await;
    }
    // Whatever was not written is freed now, not when the hub hears of the end.
    queue.discard();
    if let Some(reason) = close_with {
        let close = sink.send(Outgoing::Close(close_reason(&reason)));
        let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
    }
    if !hub_knows {
        let _ = shared
            .hub
            .send(HubMsg::Disconnected {
                peer,
                reason: ended.reason.clone(),
                misbehaved: ended.misbehaved,
            })
            .await;
    }
    ended
}

/// Runs a connection accepted on `/ws`.
pub async fn serve_inbound(
    shared: Arc<Shared>,
    slot: ConnectionSlot,
    socket: WebSocket,
    remote: SocketAddr,
) {
    let max = shared.limits.max_frame_size;
    let (sink, stream) = socket.split();
    let stream = stream.map(move |m| match m {
        Ok(AxMessage::Binary(b)) => Incoming::Frame(b),
        Ok(AxMessage::Text(t)) => Incoming::Frame(Bytes::from(t)),
        Ok(AxMessage::Ping(_) | AxMessage::Pong(_)) => Incoming::Ignore,
        Ok(AxMessage::Close(frame)) => {
            Incoming::Closed(frame.map(|f| f.reason.to_string()).unwrap_or_default())
        }
        // axum hides tungstenite's error type; its text names a capacity error.
        Err(e) => read_failure(e.to_string(), max),
    });
    let sink = sink.sink_map_err(|e| e.to_string()).with(|o: Outgoing| {
        future::ready(Ok::<_, String>(match o {
            Outgoing::Frame(b) => AxMessage::Binary(b),
            Outgoing::Close(reason) => AxMessage::Close(Some(AxCloseFrame {
                code: 1008,
                reason: reason.into(),
            })),
        }))
    });
    let ended = run(
        shared,
        slot,
        None,
        remote.ip(),
        Box::pin(stream),
        Box::pin(sink),
    )
    .await;
    tracing::debug!(%remote, reason = %peer_text(&ended.reason), "inbound connection ended");
}

/// The WebSocket limits of a client connection: the protocol's largest frame.
pub fn ws_config() -> WebSocketConfig {
    ws_config_for(MAX_FRAME_SIZE)
}

/// Whether `frame` is a `getdata` (by its command; the node decodes and checks the rest).
fn is_getdata(frame: &[u8]) -> bool {
    frame
        .get(node_core::protocol::MAGIC.len()..node_core::protocol::HEADER_LEN)
        .is_some_and(|command| command.starts_with(b"getdata\0"))
}

/// If `frame` is a `tx` whose every input signature holds, its txid; `Ok(None)` for other
/// frames (and undecodable ones, which the hub refuses). Signature checks are the cost of
/// taking a transaction in; done here, in each connection's task, they run on all cores at
/// once instead of one after another in the hub, which then trusts the txid. A transaction
/// verified before (another copy) is not checked again (see [`VerifiedTxs`]). A signature
/// that does not verify is an error: the check was paid for, so the sender is charged at
/// once (a bad signature spending unknown outputs would otherwise only wait as an orphan).
fn verified_transaction(
    verified: &VerifiedTxs,
    frame: &[u8],
) -> Result<Option<node_core::Txid>, node_core::ValidationError> {
    let Some(command) =
        frame.get(node_core::protocol::MAGIC.len()..node_core::protocol::HEADER_LEN)
    else {
        return Ok(None);
    };
    if !command.starts_with(b"tx\0") {
        return Ok(None);
    }
    match node_core::protocol::decode_frame(frame) {
        Ok(node_core::protocol::Message::Tx(tx)) if !tx.is_coinbase() => {
            verified.check(&tx).map(Some)
        }
        _ => Ok(None),
    }
}

/// Bytes read from a connection at a time. Most frames are small; an idle connection keeps
/// its buffer resident, so a small one is what lets a relay hold many idle tabs.
pub const READ_BUFFER_SIZE: usize = 4096;

/// The WebSocket limits of a connection reading frames up to `max_frame_size` bytes.
pub fn ws_config_for(max_frame_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(Some(max_frame_size))
        .max_frame_size(Some(max_frame_size))
}

/// Maps a tungstenite client connection to the common stream and sink.
pub fn adapt_client<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    max_frame_size: usize,
) -> (
    impl Stream<Item = Incoming> + Unpin,
    impl Sink<Outgoing, Error = String> + Unpin,
)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (sink, stream) = ws.split();
    let stream = stream.map(move |m| match m {
        Ok(Message::Binary(b)) => Incoming::Frame(b),
        Ok(Message::Text(t)) => Incoming::Frame(Bytes::from(t)),
        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Incoming::Ignore,
        Ok(Message::Close(frame)) => {
            Incoming::Closed(frame.map(|f| f.reason.to_string()).unwrap_or_default())
        }
        Err(tungstenite::Error::Capacity(e)) => Incoming::Failed {
            reason: format!("frame over the limit: {e}"),
            misbehaved: true,
        },
        Err(e) => read_failure(e.to_string(), max_frame_size),
    });
    let sink = sink.sink_map_err(|e| e.to_string()).with(|o: Outgoing| {
        future::ready(Ok::<_, String>(match o {
            Outgoing::Frame(b) => Message::Binary(b),
            Outgoing::Close(reason) => Message::Close(Some(CloseFrame {
                code: CloseCode::Policy,
                reason: reason.into(),
            })),
        }))
    });
    (Box::pin(stream), Box::pin(sink))
}

/// Dials `url` once and runs the connection; `Err` if it could not be opened. `named` when
/// the operator named it (`--peer`); a URL a peer gave is dialled only where
/// [`learned_dial`] allows.
async fn dial_once(shared: &Arc<Shared>, url: &str, named: bool) -> Result<Ended, String> {
    let learned = !named;
    let slot = shared.reserve_outbound();
    let max = shared.limits.max_frame_size;
    let config = Some(ws_config_for(max));
    let (ws, _) = if learned {
        let tcp = learned_dial::connect(url, shared.dial_own_machine).await?;
        let _ = tcp.set_nodelay(true);
        let handshake =
            tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(tcp), config);
        tokio::time::timeout(learned_dial::CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?
    } else {
        let connect = tokio_tungstenite::connect_async_with_config(url, config, true);
        tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?
    };
    let ip = match ws.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.peer_addr().map(|a| a.ip()).ok(),
        _ => None,
    }
    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let (stream, sink) = adapt_client(ws, max);
    let dialled = Some((url.to_string(), named));
    Ok(run(shared.clone(), slot, dialled, ip, stream, sink).await)
}

/// Dials a relay the node learned of (through `version` or `addr`) once, and runs the
/// connection until it ends; the node dials again, or another relay, when it wants to.
pub async fn dial_learned(shared: Arc<Shared>, url: String) {
    if *shared.shutdown.borrow() {
        return;
    }
    // The URL came from a peer: shown escaped.
    let shown_url = peer_text(&url);
    tracing::info!(url = %shown_url, "dialling a relay learned from a peer");
    match dial_once(&shared, &url, false).await {
        Ok(ended) => {
            let reason = peer_text(&ended.reason);
            tracing::info!(url = %shown_url, %reason, "connection to learned relay ended")
        }
        Err(e) => {
            let e = peer_text(&e);
            tracing::warn!(url = %shown_url, "cannot connect to learned relay: {e}")
        }
    }
}

/// Keeps an outbound connection to `url` up until the node stops, redialling with
/// exponential backoff (capped at [`MAX_BACKOFF`]).
pub async fn dial_forever(shared: Arc<Shared>, url: String) {
    let mut shutdown = shared.shutdown.clone();
    let mut backoff = MIN_BACKOFF;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let started = Instant::now();
        match dial_once(&shared, &url, true).await {
            Ok(ended) => {
                tracing::info!(%url, reason = %peer_text(&ended.reason), "connection to peer ended");
                // A connection that lived a while was healthy: start the backoff afresh.
                if started.elapsed() > Duration::from_secs(30) {
                    backoff = MIN_BACKOFF;
                }
            }
            Err(e) => tracing::warn!(%url, "cannot connect to peer: {}", peer_text(&e)),
        }
        if *shutdown.borrow() {
            return;
        }
        tracing::debug!(%url, "redialling in {} ms", backoff.as_millis());
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::protocol::{encode_frame, InvItem, Message};

    #[test]
    fn only_getdata_frames_are_held_back() {
        let getdata = encode_frame(&Message::GetData(vec![InvItem::Block(Default::default())]));
        assert!(is_getdata(&getdata));
        assert!(!is_getdata(&encode_frame(&Message::Ping(1))));
        assert!(!is_getdata(&encode_frame(&Message::GetAddr)));
        assert!(!is_getdata(b"short"));
    }
}
