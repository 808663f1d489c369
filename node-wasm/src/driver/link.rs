//! The relay connection: opening it, following its socket, and reconnecting with backoff
//! (to the home relay or one the node learned of) after it is lost.

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use node_core::node::peers::PeerId;
use node_core::protocol::MAX_FRAME_SIZE;
use node_core::Event;
use wasm_bindgen_futures::spawn_local;

use super::Driver;
use crate::error::NodeError;
use crate::peer_text::{console_error, console_warn};
use crate::transport::{pick_relay, Backoff, Connection, SocketEvent};

/// The relay connection and its reconnection state.
pub(super) struct Link {
    /// The relay this tab belongs to (`?relay=` or the page's origin).
    pub(super) home: String,
    /// The relay of the current or last attempt.
    pub(super) url: String,
    /// Attempts since the last completed handshake.
    pub(super) failed: u32,
    pub(super) enabled: bool,
    pub(super) conn: Option<Connection>,
    pub(super) peer: PeerId,
    pub(super) open: bool,
    pub(super) next_peer: PeerId,
    pub(super) backoff: Backoff,
    pub(super) attempt: u32,
    pub(super) retry: Option<Timeout>,
    pub(super) state: &'static str,
}

impl Driver {
    /// Opens a connection now if none is open or opening.
    pub(super) fn connect_now(&self) {
        let learned: Vec<String> = self
            .inner
            .node
            .borrow()
            .known_addrs()
            .into_iter()
            .filter_map(|a| a.url)
            .collect();
        {
            let mut link = self.inner.link.borrow_mut();
            if !link.enabled || link.conn.is_some() || self.inner.closed.get() {
                return;
            }
            link.retry = None;
            link.url = pick_relay(&link.home, &learned, link.failed).to_string();
            link.failed = link.failed.saturating_add(1);
            let peer = link.next_peer;
            link.next_peer += 1;
            link.attempt += 1;
            let weak = Rc::downgrade(&self.inner);
            let on_event: Rc<dyn Fn(SocketEvent)> = Rc::new(move |ev| {
                let weak = weak.clone();
                spawn_local(async move {
                    if let Some(inner) = weak.upgrade() {
                        Driver { inner }.on_socket(peer, ev);
                    }
                });
            });
            match Connection::open(&link.url, on_event) {
                Ok(conn) => {
                    link.conn = Some(conn);
                    link.peer = peer;
                    link.open = false;
                    link.state = "connecting";
                }
                Err(e) => {
                    console_error(&e.to_string());
                    link.state = "closed";
                    drop(link);
                    let delay = self.schedule_reconnect();
                    self.emit_connection(None, Some(e.to_string()), delay);
                    return;
                }
            }
        }
        self.emit_connection(None, None, None);
    }

    /// Arms the reconnection timer; returns its delay, or `None` when not reconnecting.
    fn schedule_reconnect(&self) -> Option<u64> {
        let mut link = self.inner.link.borrow_mut();
        if !link.enabled || self.inner.closed.get() {
            return None;
        }
        let delay = link.backoff.next_delay();
        let weak = Rc::downgrade(&self.inner);
        link.retry = Some(Timeout::new(delay as u32, move || {
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    Driver { inner }.connect_now();
                }
            });
        }));
        Some(delay)
    }

    fn on_socket(&self, peer: PeerId, event: SocketEvent) {
        let current = {
            let link = self.inner.link.borrow();
            link.conn.is_some() && link.peer == peer
        };
        if !current {
            return;
        }
        match event {
            SocketEvent::Open => {
                let (url, named) = {
                    let mut link = self.inner.link.borrow_mut();
                    link.open = true;
                    link.state = "open";
                    // The relay the page came from is the one its operator named.
                    (link.url.clone(), link.url == link.home)
                };
                self.emit_connection(None, None, None);
                self.handle(Event::Dialled { peer, url, named });
            }
            SocketEvent::Frame(frame) => {
                if !self.inner.link.borrow().open {
                    return;
                }
                if frame.is_oversized() {
                    // The node refuses what was copied as oversized, scores the relay and
                    // closes the connection; the line says how large it really was.
                    let url = self.inner.link.borrow().url.clone();
                    console_warn(&format!(
                        "node {}: {url} sent a message of {} bytes, over the {MAX_FRAME_SIZE}-byte frame limit; only its first {} bytes were read",
                        self.inner.node_id,
                        frame.size,
                        frame.bytes.len()
                    ));
                }
                self.receive(peer, frame.bytes);
            }
            SocketEvent::Closed { code, reason } => {
                let (was_open, conn) = {
                    let mut link = self.inner.link.borrow_mut();
                    link.state = "closed";
                    (std::mem::replace(&mut link.open, false), link.conn.take())
                };
                drop(conn);
                if was_open {
                    self.handle(Event::PeerDisconnected { peer });
                }
                let delay = self.schedule_reconnect();
                let reason = Some(reason).filter(|r| !r.is_empty());
                self.emit_connection(Some(code), reason, delay);
            }
        }
    }

    /// Connects to the relay (again) now, and keeps reconnecting after losses.
    pub fn connect(&self) -> Result<(), NodeError> {
        self.check_open()?;
        {
            let mut link = self.inner.link.borrow_mut();
            link.enabled = true;
            link.backoff.reset();
        }
        self.connect_now();
        Ok(())
    }

    /// Closes the relay connection and stops reconnecting (the node works offline).
    pub fn disconnect(&self) {
        let mut link = self.inner.link.borrow_mut();
        link.enabled = false;
        link.retry = None;
        if let Some(c) = &link.conn {
            c.close("disconnected by the user");
        }
    }
}
