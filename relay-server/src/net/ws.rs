//! The two WebSocket libraries — axum's on `/ws`, tokio-tungstenite for our own dials — mapped
//! onto one [`Incoming`] stream and one [`Outgoing`] sink, so a connection is run by the same
//! code whichever side opened it.
//!
//! An oversized frame is recognised by tungstenite's error type (`Error::Capacity`), not by
//! its text: axum wraps the tungstenite version it was built with, whose error type
//! `axum_tungstenite` names.

use axum::extract::ws::{CloseFrame as AxCloseFrame, Message as AxMessage, WebSocket};
use bytes::Bytes;
use futures_util::{future, Sink, SinkExt, Stream, StreamExt};
use node_core::protocol::MAX_FRAME_SIZE;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

/// Bytes read from a connection at a time. Most frames are small; an idle connection keeps
/// its buffer resident, so a small one is what lets a relay hold many idle tabs.
pub const READ_BUFFER_SIZE: usize = 4096;

/// Longest close reason sent: a WebSocket close frame holds 123 bytes of reason.
const MAX_CLOSE_REASON_BYTES: usize = 120;

/// What the socket delivered.
pub enum Incoming {
    /// A message for the node (binary; text is passed on too, and refused by the node).
    Frame(Bytes),
    /// Control traffic the WebSocket layer handles itself.
    Ignore,
    /// The peer closed the connection, with its reason (empty if it gave none).
    Closed(String),
    /// Reading failed.
    Failed(ReadError),
}

/// Why reading from a socket failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer sent a frame or message over the limit (the peer broke a rule).
    #[error("frame over the {limit}-byte limit")]
    Oversized {
        /// The limit it went over.
        limit: usize,
    },
    /// The socket failed (a reset, a protocol error): nobody's fault in particular.
    #[error("{0}")]
    Socket(String),
}

/// Why writing to a socket failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(String);

/// What to write.
pub enum Outgoing {
    /// A protocol frame.
    Frame(Bytes),
    /// A close frame with a reason.
    Close(String),
}

/// `reason` cut to fit a close frame, at a character boundary.
pub fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(MAX_CLOSE_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// The WebSocket limits of a client connection: the protocol's largest frame.
pub fn ws_config() -> WebSocketConfig {
    ws_config_for(MAX_FRAME_SIZE)
}

/// The WebSocket limits of a connection reading frames up to `max_frame_size` bytes.
pub fn ws_config_for(max_frame_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(Some(max_frame_size))
        .max_frame_size(Some(max_frame_size))
}

/// Sorts an axum read error: its tungstenite capacity error is an oversized frame.
fn axum_read_error(error: axum::Error, max_frame_size: usize) -> ReadError {
    match error.into_inner().downcast::<axum_tungstenite::Error>() {
        Ok(e) if matches!(*e, axum_tungstenite::Error::Capacity(_)) => ReadError::Oversized {
            limit: max_frame_size,
        },
        Ok(e) => ReadError::Socket(e.to_string()),
        Err(other) => ReadError::Socket(other.to_string()),
    }
}

/// Maps a connection accepted by axum to the common stream and sink.
pub fn adapt_inbound(
    socket: WebSocket,
    max_frame_size: usize,
) -> (
    impl Stream<Item = Incoming> + Unpin,
    impl Sink<Outgoing, Error = WriteError> + Unpin,
) {
    let (sink, stream) = socket.split();
    let stream = stream.map(move |m| match m {
        Ok(AxMessage::Binary(b)) => Incoming::Frame(b),
        Ok(AxMessage::Text(t)) => Incoming::Frame(Bytes::from(t)),
        Ok(AxMessage::Ping(_) | AxMessage::Pong(_)) => Incoming::Ignore,
        Ok(AxMessage::Close(frame)) => {
            Incoming::Closed(frame.map(|f| f.reason.to_string()).unwrap_or_default())
        }
        Err(e) => Incoming::Failed(axum_read_error(e, max_frame_size)),
    });
    let sink = sink
        .sink_map_err(|e| WriteError(e.to_string()))
        .with(|o: Outgoing| {
            future::ready(Ok::<_, WriteError>(match o {
                Outgoing::Frame(b) => AxMessage::Binary(b),
                Outgoing::Close(reason) => AxMessage::Close(Some(AxCloseFrame {
                    code: 1008,
                    reason: reason.into(),
                })),
            }))
        });
    (Box::pin(stream), Box::pin(sink))
}

/// Maps a tungstenite client connection to the common stream and sink.
pub fn adapt_client<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    max_frame_size: usize,
) -> (
    impl Stream<Item = Incoming> + Unpin,
    impl Sink<Outgoing, Error = WriteError> + Unpin,
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
        Err(tungstenite::Error::Capacity(_)) => Incoming::Failed(ReadError::Oversized {
            limit: max_frame_size,
        }),
        Err(e) => Incoming::Failed(ReadError::Socket(e.to_string())),
    });
    let sink = sink
        .sink_map_err(|e| WriteError(e.to_string()))
        .with(|o: Outgoing| {
            future::ready(Ok::<_, WriteError>(match o {
                Outgoing::Frame(b) => Message::Binary(b),
                Outgoing::Close(reason) => Message::Close(Some(CloseFrame {
                    code: CloseCode::Policy,
                    reason: reason.into(),
                })),
            }))
        });
    (Box::pin(stream), Box::pin(sink))
}
