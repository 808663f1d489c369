//! The WebSocket to the relay: one binary frame is one protocol message.
//!
//! # Overview
//! A [`Connection`] owns its `WebSocket` and the four listeners on it (open, message, close,
//! error), held as `gloo_events::EventListener`s: dropping the connection removes them and
//! frees their closures, so reconnecting for hours leaks nothing. Listeners do no work: they
//! hand a [`SocketEvent`] to the callback the driver gave, which defers it to a microtask, so
//! the driver may drop the connection while handling its close without freeing a closure
//! that is still running.
//!
//! [`Backoff`] spaces reconnection attempts (0.5 s doubling to 10 s; reset once a handshake
//! completes), [`relay_url`] works out where to connect: `?relay=ws://...` or the page's
//! own origin at `/ws`, and [`pick_relay`] which relay to try when that one does not answer.

use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{ArrayBuffer, JsString, Uint8Array};
use node_core::protocol::MAX_FRAME_SIZE;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::bounded_copy;
use crate::error::{js_message, NodeError};

/// Most bytes of one message ever copied into wasm memory: one more than node-core's frame
/// limit. A longer message is copied only this far, which is all the node needs to refuse
/// it as oversized (and score the relay for it, as any node scores an oversized frame):
/// a relay cannot make the tab copy, or hold twice, a message of hundreds of megabytes.
pub const MAX_COPIED_BYTES: usize = MAX_FRAME_SIZE + 1;

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// The connection is open: the node may send.
    Open,
    /// A message arrived (binary, or a text message's bytes, which the node will refuse);
    /// see [`FrameData`].
    Frame(FrameData),
    /// The connection closed (or never opened).
    Closed {
        /// The close code (1006 when the connection failed).
        code: u16,
        /// The close reason, often empty.
        reason: String,
    },
}

/// The bytes of one incoming message, as far as they were copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameData {
    /// The message's bytes, or its first [`MAX_COPIED_BYTES`] when it is longer.
    pub bytes: Vec<u8>,
    /// Its whole size in bytes (UTF-16 code units for a text message that was cut, a lower
    /// bound of its UTF-8 size), as the browser reported it before anything was copied.
    pub size: usize,
}

impl FrameData {
    /// Whether the message is larger than any frame the node accepts.
    pub fn is_oversized(&self) -> bool {
        self.size > MAX_FRAME_SIZE
    }
}

/// Turns a `MessageEvent.data` into frame bytes: an `ArrayBuffer` (binary frame, as
/// `binaryType = "arraybuffer"` delivers it) or, for a text frame, the UTF-8 bytes of the text
/// so the node refuses it like any other malformed frame and scores the sender. The size is
/// read first and at most [`MAX_COPIED_BYTES`] are copied.
pub fn frame_from_data(data: &JsValue) -> Result<FrameData, String> {
    if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        let size = bounded_copy::byte_length(buffer);
        let copied = size.min(MAX_COPIED_BYTES) as u32;
        let bytes = Uint8Array::new_with_byte_offset_and_length(buffer, 0, copied).to_vec();
        return Ok(FrameData { bytes, size });
    }
    if let Some(text) = data.dyn_ref::<JsString>() {
        // UTF-8 takes at least one byte per UTF-16 unit: a text longer in units than the
        // limit is longer in bytes too, and a shorter one copies at most 3 bytes a unit.
        let units = text.length() as usize;
        let head = if units > MAX_FRAME_SIZE {
            text.slice(0, MAX_COPIED_BYTES as u32)
        } else {
            text.clone()
        };
        let mut bytes = String::from(head).into_bytes();
        let size = if units > MAX_FRAME_SIZE {
            units
        } else {
            bytes.len()
        };
        bytes.truncate(MAX_COPIED_BYTES);
        return Ok(FrameData { bytes, size });
    }
    Err("frame is neither binary nor text".into())
}

/// One WebSocket and its listeners.
pub struct Connection {
    socket: WebSocket,
    _listeners: [EventListener; 4],
}

impl Connection {
    /// Starts connecting to `url`; every event goes to `on_event`.
    pub fn open(url: &str, on_event: Rc<dyn Fn(SocketEvent)>) -> Result<Self, NodeError> {
        let socket = WebSocket::new(url)
            .map_err(|e| NodeError::Browser(format!("{url}: {}", js_message(&e))))?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let open = {
            let on_event = on_event.clone();
            EventListener::new(&socket, "open", move |_| on_event(SocketEvent::Open))
        };
        let message = {
            let on_event = on_event.clone();
            EventListener::new(&socket, "message", move |e| {
                let Some(e) = e.dyn_ref::<MessageEvent>() else {
                    return;
                };
                if let Ok(frame) = frame_from_data(&e.data()) {
                    on_event(SocketEvent::Frame(frame));
                }
            })
        };
        let close = {
            let on_event = on_event.clone();
            EventListener::new(&socket, "close", move |e| {
                let (code, reason) = e
                    .dyn_ref::<CloseEvent>()
                    .map_or((1006, String::new()), |c| (c.code(), c.reason()));
                on_event(SocketEvent::Closed { code, reason });
            })
        };
        // An error is always followed by a close event, which is what the driver acts on.
        let error = EventListener::new(&socket, "error", |_| {});
        Ok(Connection {
            socket,
            _listeners: [open, message, close, error],
        })
    }

    /// Sends one frame; fails if the socket is not open.
    pub fn send(&self, frame: &[u8]) -> Result<(), NodeError> {
        self.socket
            .send_with_u8_array(frame)
            .map_err(|e| NodeError::Browser(format!("send: {}", js_message(&e))))
    }

    /// Bytes queued by `send` but not yet transmitted.
    pub fn buffered(&self) -> u32 {
        self.socket.buffered_amount()
    }

    /// Closes the connection with a normal close code.
    pub fn close(&self, reason: &str) {
        // Close reasons are limited to 123 bytes.
        let mut reason = reason.to_string();
        if reason.len() > 120 {
            let mut end = 120;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        let _ = self.socket.close_with_code_and_reason(1000, &reason);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let state = self.socket.ready_state();
        if state == WebSocket::CONNECTING || state == WebSocket::OPEN {
            let _ = self.socket.close();
        }
    }
}

/// Exponential backoff between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next_ms: u64,
    min_ms: u64,
    max_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(500, 10_000)
    }
}

impl Backoff {
    /// Starts at `min_ms`, doubles up to `max_ms`.
    pub fn new(min_ms: u64, max_ms: u64) -> Self {
        Backoff {
            next_ms: min_ms,
            min_ms,
            max_ms: max_ms.max(min_ms),
        }
    }

    /// The delay before the next attempt; the one after is twice as long, up to the cap.
    pub fn next_delay(&mut self) -> u64 {
        let d = self.next_ms;
        self.next_ms = (self.next_ms * 2).min(self.max_ms);
        d
    }

    /// Back to the shortest delay (after a connection that worked).
    pub fn reset(&mut self) {
        self.next_ms = self.min_ms;
    }
}

/// The relay to try on a connection attempt: the tab's own relay (`home`) first and once
/// more, then, if it still does not answer, in turn every relay the node heard of through
/// `addr` (`learned`, WebSocket URLs only) and `home` again; `failed` counts the attempts since
/// the last handshake. So a tab whose relay goes down carries on through another one, and
/// goes back to its own relay when it next has to reconnect.
pub fn pick_relay<'a>(home: &'a str, learned: &'a [String], failed: u32) -> &'a str {
    let others: Vec<&str> = learned
        .iter()
        .map(String::as_str)
        .filter(|u| *u != home && (u.starts_with("ws://") || u.starts_with("wss://")))
        .collect();
    if failed < 2 || others.is_empty() {
        return home;
    }
    // Attempt 2 is the first other relay; home comes round again after the others.
    let turn = (failed as usize - 2) % (others.len() + 1);
    others.get(turn).copied().unwrap_or(home)
}

/// Where to connect: `relay` if given (a `ws://` or `wss://` URL), else `/ws` on the page's
/// own origin (`wss:` when the page is `https:`).
pub fn relay_url(relay: Option<&str>, protocol: &str, host: &str) -> Result<String, NodeError> {
    if let Some(r) = relay.map(str::trim).filter(|r| !r.is_empty()) {
        if r.starts_with("ws://") || r.starts_with("wss://") {
            return Ok(r.to_string());
        }
        return Err(NodeError::BadOption(format!(
            "relay \"{}\" must start with ws:// or wss://",
            node_core::util::escaped::Escaped(r)
        )));
    }
    if host.is_empty() {
        return Err(NodeError::BadOption(
            "the page has no host to connect to: pass ?relay=ws://host:port/ws".into(),
        ));
    }
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    Ok(format!("{scheme}://{host}/ws"))
}
