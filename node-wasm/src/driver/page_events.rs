//! The page's side: the node's notifications turned into page events, protocol messages kept
//! for the inspector until the next tick, and the listeners the page registered.

use js_sys::Function;
use node_core::node::peers::PeerId;
use node_core::{Notification, Txid};
use wasm_bindgen::JsValue;

use super::{now_ms, Driver};
use crate::views::{self, to_js, ConnectionView, HashRateView};

/// Protocol messages kept for the page between two ticks: what its inspector shows. During
/// a download thousands arrive per second; only the newest are turned into page events.
const MESSAGE_BACKLOG: usize = 400;

impl Driver {
    pub(super) fn notify(&self, n: Notification) {
        if matches!(
            n,
            Notification::MessageIn { .. } | Notification::MessageOut { .. }
        ) {
            self.keep_message(n);
            return;
        }
        self.follow_payments(&n);
        match &n {
            Notification::Mined { .. } => self
                .inner
                .blocks_mined
                .set(self.inner.blocks_mined.get() + 1),
            Notification::PeerUp { .. } => {
                let mut link = self.inner.link.borrow_mut();
                link.backoff.reset();
                link.failed = 0;
            }
            _ => {}
        }
        // The reject message itself is in the inspector already; only a refusal of one of
        // this tab's own payments is a "txRejected" for the wallet.
        if let Notification::RejectReceived { hash, .. } = &n {
            if !self.is_own_payment(&Txid::from_hash(*hash)) {
                return;
            }
        }
        let Some((name, payload)) = views::event_for(&n, &|p| self.peer_node(p), now_ms()) else {
            return;
        };
        if !self.has_listener(name) {
            return;
        }
        self.emit(name, &to_js(&payload));
    }

    /// Queues a protocol message for the page's inspector, keeping the newest
    /// [`MESSAGE_BACKLOG`]; they are shown on the next tick.
    fn keep_message(&self, n: Notification) {
        if !self.has_listener("message") {
            return;
        }
        let mut messages = self.inner.messages.borrow_mut();
        messages.push_back((now_ms(), n));
        if messages.len() > MESSAGE_BACKLOG {
            messages.pop_front();
            self.inner
                .messages_skipped
                .set(self.inner.messages_skipped.get() + 1);
        }
    }

    /// Emits the queued protocol messages: first a "messagesSkipped" with how many were
    /// dropped, if any, then one "message" each, oldest first.
    pub(super) fn flush_messages(&self) {
        let messages: Vec<(u64, Notification)> =
            self.inner.messages.borrow_mut().drain(..).collect();
        let skipped = self.inner.messages_skipped.replace(0);
        if skipped > 0 {
            self.emit(
                "messagesSkipped",
                &to_js(&views::MessagesSkipped { count: skipped }),
            );
        }
        if messages.is_empty() {
            return;
        }
        let names: Vec<(PeerId, Option<String>)> = self
            .inner
            .node
            .borrow()
            .peers()
            .into_iter()
            .map(|p| (p.id, p.node_id))
            .collect();
        let peer_node = |peer: PeerId| {
            names
                .iter()
                .find(|(id, _)| *id == peer)
                .and_then(|(_, n)| n.clone())
        };
        for (time, n) in messages {
            if let Some((name, payload)) = views::event_for(&n, &peer_node, time) {
                self.emit(name, &to_js(&payload));
            }
        }
    }

    fn peer_node(&self, peer: PeerId) -> Option<String> {
        self.inner
            .node
            .borrow()
            .peers()
            .into_iter()
            .find(|p| p.id == peer)
            .and_then(|p| p.node_id)
    }

    fn has_listener(&self, name: &str) -> bool {
        self.inner
            .listeners
            .borrow()
            .iter()
            .any(|(n, _)| n == name || n == "*")
    }

    /// Calls the page's listeners for `name` (and `"*"`), holding no borrow while they run.
    pub(super) fn emit(&self, name: &str, payload: &JsValue) {
        let targets: Vec<(bool, Function)> = self
            .inner
            .listeners
            .borrow()
            .iter()
            .filter(|(n, _)| n == name || n == "*")
            .map(|(n, f)| (n == "*", f.clone()))
            .collect();
        for (wildcard, f) in targets {
            let result = if wildcard {
                f.call2(&JsValue::NULL, &JsValue::from_str(name), payload)
            } else {
                f.call1(&JsValue::NULL, payload)
            };
            if let Err(e) = result {
                web_sys::console::error_2(&format!("a listener for \"{name}\" threw:").into(), &e);
            }
        }
    }

    /// Registers a page listener.
    pub fn on(&self, name: &str, f: Function) {
        self.inner
            .listeners
            .borrow_mut()
            .push((name.to_string(), f));
    }

    /// Removes a page listener.
    pub fn off(&self, name: &str, f: &Function) {
        self.inner
            .listeners
            .borrow_mut()
            .retain(|(n, g)| !(n == name && g == f));
    }

    pub(super) fn emit_hashrate(&self) {
        if !self.has_listener("hashrate") {
            return;
        }
        let view = self.hashrate_view();
        self.emit("hashrate", &to_js(&view));
    }

    pub(super) fn hashrate_view(&self) -> HashRateView {
        let miner = self.inner.miner.borrow();
        let rate = miner.rate();
        HashRateView {
            total: if miner.is_active() { rate.total } else { 0.0 },
            workers: if miner.is_active() {
                rate.workers.clone()
            } else {
                vec![0.0; rate.workers.len()]
            },
        }
    }

    pub(super) fn emit_connection(
        &self,
        code: Option<u16>,
        reason: Option<String>,
        retry_in_ms: Option<u64>,
    ) {
        let view = {
            let link = self.inner.link.borrow();
            ConnectionView::of(
                link.state,
                &link.url,
                link.attempt,
                retry_in_ms,
                code,
                reason.as_deref(),
            )
        };
        self.emit("connection", &to_js(&view));
    }
}
