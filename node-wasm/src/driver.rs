//! The loop around the node-core state machine: the one place every event enters and every
//! action is carried out.
//!
//! # Overview
//! A [`Driver`] owns the tab's `Node` and everything its actions touch: the chain database,
//! the wallet, the relay connection, the mining workers and the page's event listeners. Events
//! come from four sources — WebSocket frames ([`crate::transport`]), a 250 ms tick, worker
//! reports ([`crate::miner`]) and the page's commands ([`crate::facade`]) — and each one is fed
//! to the node with the current time (`Date.now()`), after which the node's actions are
//! queued.
//!
//! One async *pump* carries queued actions out strictly in order. A `Persist` is awaited
//! before anything queued after it, so no frame announces a block that a closed tab could
//! lose. While a write is in flight more frames are handled and queue up behind it; the
//! `Persist` actions among them (up to the next frame to send) are then written together in
//! one IndexedDB transaction, each batch still whole, which is what keeps a long download
//! fast. The pump yields to the browser every few hundred actions, so the page keeps painting
//! while syncing.
//!
//! Browser callbacks (socket, worker, timer) never work inside the callback: they spawn a
//! task holding only a `Weak` reference, so nothing they own is dropped while it runs and the
//! driver is freed when the page drops the node. No `RefCell` borrow is held while a page
//! listener runs, so listeners may call back into `window.node`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use gloo_timers::future::TimeoutFuture;
use js_sys::Function;
use node_core::chain::ChainChanges;
use node_core::node::peers::PeerId;
use node_core::node::{MinedError, SendError};
use node_core::protocol::{self, Message, Role, MAX_FRAME_SIZE};
use node_core::{
    Action, Address, BlockHash, ChainParams, Event, Node, NodeConfig, Notification, Txid,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::error::{parse_address, NodeError};
use crate::inbound::{InboundQueue, Vouched, MAX_WAITING_BYTES};
use crate::miner::{MinerPool, WorkerReport};
use crate::peer_text::{console_error, console_warn, shown, MAX_REASON_CHARS, MAX_URL_CHARS};
use crate::storage::ChainStore;
use crate::transport::{pick_relay, Backoff, Connection, SocketEvent};
use crate::verifier::{pack_checks, VerifierPool};
use crate::views::{self, to_js, AddressView, BlockView, ConnectionView, HashRateView, StatusView};
use crate::wallet::Wallet;

/// How often the node is ticked.
const TICK_MS: u32 = 250;
/// Actions carried out between two yields to the browser.
const ACTIONS_PER_YIELD: usize = 256;
/// Most `ChainChanges` written in one IndexedDB transaction.
const MAX_PERSIST_BATCH: usize = 256;
/// While downloading, a write waits up to this long for more blocks to share its transaction,
/// until [`PERSIST_GATHER_BELOW`] actions are queued behind it.
const PERSIST_GATHER_MS: u64 = 100;
const PERSIST_GATHER_BELOW: usize = 32;
/// Longest a frame waits for the signature workers before the node checks it itself.
const VERIFY_TIMEOUT_MS: u64 = 10_000;
/// Protocol messages kept for the page between two ticks: what its inspector shows. During
/// a download thousands arrive per second; only the newest are turned into page events.
const MESSAGE_BACKLOG: usize = 400;

/// Whether an action reaches outside the tab (a frame, a disconnect, a mining job) rather
/// than being a write or a notification.
fn reaches_out(action: &Action) -> bool {
    !matches!(action, Action::Persist(_) | Action::Notify(_))
}

/// The current time, as the node takes it.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// How a driver is set up.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The seed's NODE_ID; names the databases `chain-ID` and `wallet-ID`.
    pub node_id: String,
    /// The relay's WebSocket URL.
    pub relay_url: String,
    /// Whether to connect to the relay at start.
    pub connect: bool,
    /// URL of `worker.js`.
    pub worker_url: String,
    /// Mining workers.
    pub workers: usize,
    /// Transactions in the mempool before mining starts (the seed's 2).
    pub mining_threshold: usize,
    /// A block the relay vouches for (height, hash): signatures below it are not checked
    /// during the initial sync unless the chain turns out not to lead to it.
    pub assume_valid: Option<(u64, node_core::BlockHash)>,
    /// Workers checking signatures of incoming blocks and transactions with the browser's
    /// WebCrypto ahead of the node (see [`crate::verifier`]); with 0, or without WebCrypto,
    /// the node checks them in wasm.
    pub verify_workers: usize,
    /// URL of `verify-worker.js`.
    pub verify_worker_url: String,
}

/// The relay connection and its reconnection state.
struct Link {
    /// The relay this tab belongs to (`?relay=` or the page's origin).
    home: String,
    /// The relay of the current or last attempt.
    url: String,
    /// Attempts since the last completed handshake.
    failed: u32,
    enabled: bool,
    conn: Option<Connection>,
    peer: PeerId,
    open: bool,
    next_peer: PeerId,
    backoff: Backoff,
    attempt: u32,
    retry: Option<Timeout>,
    state: &'static str,
}

struct Inner {
    node_id: String,
    node: RefCell<Node>,
    store: ChainStore,
    wallet: Wallet,
    queue: RefCell<VecDeque<Action>>,
    /// Actions in `queue` that reach outside (all but writes and notifications).
    outward_queued: Cell<usize>,
    pumping: Cell<bool>,
    link: RefCell<Link>,
    miner: RefCell<MinerPool>,
    miner_error: RefCell<Option<String>>,
    listeners: RefCell<Vec<(String, Function)>>,
    ticker: RefCell<Option<Interval>>,
    blocks_mined: Cell<u64>,
    storage_error: RefCell<Option<String>>,
    /// What the load found damaged in storage and how it was handled, one line each.
    storage_warnings: Vec<String>,
    local_txids: RefCell<Vec<Txid>>,
    /// Protocol messages not yet shown to the page, with their time.
    messages: RefCell<VecDeque<(u64, Notification)>>,
    /// Messages dropped from `messages` since the last flush.
    messages_skipped: Cell<u64>,
    /// The signature workers, when the page has WebCrypto and the option is on.
    verifier: Option<VerifierPool>,
    /// Frames received and not yet handed to the node, oldest first.
    inbound: RefCell<InboundQueue>,
    /// A journal compaction is running.
    compacting: Cell<bool>,
    /// Frames whose signatures the workers vouched for.
    vouched: Cell<u64>,
    closed: Cell<bool>,
}

/// A handle on the running node; clones share it.
#[derive(Clone)]
pub struct Driver {
    inner: Rc<Inner>,
}

impl Driver {
    /// Opens storage and wallet, restores the stored chain, starts the tick and, if asked,
    /// the connection to the relay. Returns once the node can answer commands.
    pub async fn start(config: DriverConfig) -> Result<Driver, NodeError> {
        let params = ChainParams {
            assume_valid: config.assume_valid,
            ..ChainParams::default()
        };
        let mut storage_warnings = Vec::new();
        let store = ChainStore::open(&format!("chain-{}", config.node_id)).await?;
        let chain = match store.load(params.clone()).await {
            Ok(chain) => chain,
            Err(NodeError::Corrupt(why)) => {
                storage_warnings.push(format!(
                    "the stored chain was not used ({why}); it is downloaded again"
                ));
                store.clear().await?;
                None
            }
            Err(e) => return Err(e),
        };
        let wallet = Wallet::open(&format!("wallet-{}", config.node_id)).await?;
        storage_warnings.extend(wallet.unreadable_summary());
        for warning in &storage_warnings {
            console_warn(&format!("node {}: {warning}", config.node_id));
        }
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce).map_err(|e| NodeError::Browser(e.to_string()))?;
        let node_config = NodeConfig {
            node_id: config.node_id.clone(),
            role: Role::Wallet,
            nonce: u64::from_le_bytes(nonce),
            params,
            mining_threshold: config.mining_threshold,
            trace_messages: true,
            user_agent: format!("blockchain-wasm-tab/{}", env!("CARGO_PKG_VERSION")),
            ..NodeConfig::default()
        };
        let node = Node::new(node_config, chain);
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| {
            let report = {
                let weak = weak.clone();
                Rc::new(move |index: usize, r: WorkerReport| {
                    let weak = weak.clone();
                    spawn_local(async move {
                        if let Some(inner) = weak.upgrade() {
                            Driver { inner }.on_worker(index, r);
                        }
                    });
                }) as Rc<dyn Fn(usize, WorkerReport)>
            };
            Inner {
                node_id: config.node_id.clone(),
                node: RefCell::new(node),
                store,
                wallet,
                queue: RefCell::new(VecDeque::new()),
                outward_queued: Cell::new(0),
                pumping: Cell::new(false),
                link: RefCell::new(Link {
                    home: config.relay_url.clone(),
                    url: config.relay_url.clone(),
                    failed: 0,
                    enabled: config.connect,
                    conn: None,
                    peer: 0,
                    open: false,
                    next_peer: 1,
                    backoff: Backoff::default(),
                    attempt: 0,
                    retry: None,
                    state: "closed",
                }),
                miner: RefCell::new(MinerPool::new(
                    config.worker_url.clone(),
                    config.workers,
                    report,
                )),
                miner_error: RefCell::new(None),
                listeners: RefCell::new(Vec::new()),
                ticker: RefCell::new(None),
                blocks_mined: Cell::new(0),
                storage_error: RefCell::new(None),
                storage_warnings,
                local_txids: RefCell::new(Vec::new()),
                messages: RefCell::new(VecDeque::new()),
                messages_skipped: Cell::new(0),
                verifier: {
                    let weak = weak.clone();
                    let on_result = Rc::new(move |id: u64, ok: bool| {
                        let weak = weak.clone();
                        spawn_local(async move {
                            if let Some(inner) = weak.upgrade() {
                                Driver { inner }.settle(id, ok);
                            }
                        });
                    }) as Rc<dyn Fn(u64, bool)>;
                    VerifierPool::start(&config.verify_worker_url, config.verify_workers, on_result)
                },
                inbound: RefCell::new(InboundQueue::new()),
                compacting: Cell::new(false),
                vouched: Cell::new(0),
                closed: Cell::new(false),
            }
        });
        let driver = Driver { inner };
        let weak = Rc::downgrade(&driver.inner);
        let ticker = Interval::new(TICK_MS, move || {
            if let Some(inner) = weak.upgrade() {
                Driver { inner }.tick();
            }
        });
        *driver.inner.ticker.borrow_mut() = Some(ticker);
        if config.connect {
            driver.connect_now();
        }
        Ok(driver)
    }

    /// The node id.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    fn check_open(&self) -> Result<(), NodeError> {
        if self.inner.closed.get() {
            return Err(NodeError::Closed);
        }
        Ok(())
    }

    // ----- feeding the node ---------------------------------------------------------------

    /// Feeds one event to the node and queues its actions.
    fn handle(&self, event: Event) {
        if self.inner.closed.get() {
            return;
        }
        self.inner.node.borrow_mut().handle(now_ms(), event);
        self.drain();
    }

    /// Moves the node's actions to the queue and makes sure the pump runs.
    ///
    /// A frame that only requests data (`getdata`, `getblocks`) goes out at once when
    /// nothing but writes and notifications wait ahead of it: it announces nothing a closed
    /// tab could lose, and holding it behind an IndexedDB commit would let the download's
    /// pipeline run dry. Frames keep their order among themselves.
    fn drain(&self) {
        let actions = self.inner.node.borrow_mut().drain_actions();
        if actions.is_empty() {
            return;
        }
        {
            let mut queue = self.inner.queue.borrow_mut();
            for action in actions {
                let request = matches!(&action, Action::Send { frame, .. }
                    if protocol::frame_only_requests(frame));
                if request && self.inner.outward_queued.get() == 0 {
                    drop(queue);
                    self.execute(action);
                    queue = self.inner.queue.borrow_mut();
                    continue;
                }
                if reaches_out(&action) {
                    self.inner
                        .outward_queued
                        .set(self.inner.outward_queued.get() + 1);
                }
                queue.push_back(action);
            }
        }
        if self.inner.queue.borrow().is_empty() {
            return;
        }
        if !self.inner.pumping.replace(true) {
            let driver = self.clone();
            spawn_local(async move { driver.pump().await });
        }
    }

    /// Carries queued actions out in order until the queue is empty.
    async fn pump(self) {
        let mut since_yield = 0;
        loop {
            let next = self.inner.queue.borrow_mut().pop_front();
            let Some(action) = next else { break };
            if reaches_out(&action) {
                self.inner
                    .outward_queued
                    .set(self.inner.outward_queued.get().saturating_sub(1));
            }
            match action {
                Action::Persist(first) => {
                    // While downloading, a short queue means each block would get a
                    // transaction (and a journal record) of its own: let the next ones join
                    // it, for up to PERSIST_GATHER_MS. Nothing waiting is announced before
                    // the write, and a download lost to a closed tab is fetched again.
                    if self.inner.node.borrow().is_syncing() {
                        let start = now_ms();
                        while self.inner.queue.borrow().len() < PERSIST_GATHER_BELOW
                            && now_ms().saturating_sub(start) < PERSIST_GATHER_MS
                        {
                            TimeoutFuture::new(5).await;
                        }
                    }
                    let batch = self.take_persist_batch(first);
                    self.persist(&batch).await;
                }
                other => self.execute(other),
            }
            since_yield += 1;
            if since_yield >= ACTIONS_PER_YIELD {
                since_yield = 0;
                TimeoutFuture::new(0).await;
            }
        }
        self.inner.pumping.set(false);
    }

    /// `first` and the `Persist` actions queued after it up to the next action that reaches
    /// outside (a frame, a disconnect, a mining job); notifications in between stay queued.
    fn take_persist_batch(&self, first: ChainChanges) -> Vec<ChainChanges> {
        let mut queue = self.inner.queue.borrow_mut();
        let mut batch = vec![first];
        let mut rest = VecDeque::with_capacity(queue.len());
        let mut gathering = true;
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Persist(c) if gathering && batch.len() < MAX_PERSIST_BATCH => batch.push(c),
                a @ Action::Notify(_) => rest.push_back(a),
                a => {
                    gathering = false;
                    rest.push_back(a);
                }
            }
        }
        *queue = rest;
        batch
    }

    /// Writes a batch, or records why storage failed. After a failure nothing more is
    /// written: the stored chain stays whole at its last good state, and a reload resumes
    /// from there.
    async fn persist(&self, batch: &[ChainChanges]) {
        if self.inner.storage_error.borrow().is_some() {
            return;
        }
        if let Err(e) = self.inner.store.persist(batch).await {
            console_error(&format!("node {}: {e}", self.inner.node_id));
            *self.inner.storage_error.borrow_mut() = Some(e.to_string());
        }
    }

    /// Carries out one action other than `Persist`.
    fn execute(&self, action: Action) {
        match action {
            Action::Send { peer, frame } => self.send_frame(peer, &frame),
            Action::Broadcast { peers, frame } => {
                for p in peers {
                    self.send_frame(p, &frame);
                }
            }
            Action::Disconnect { peer, reason, .. } => {
                let link = self.inner.link.borrow();
                if link.peer == peer {
                    if let Some(c) = &link.conn {
                        c.close(&reason);
                    }
                }
            }
            // A tab keeps one connection, to its relay (`dial_learned` is 0 here, so the node
            // never asks); the relays it hears of are listed on the page.
            Action::Persist(_) | Action::Dial { .. } => {}
            Action::Mine(job) => {
                let header = job.template.header.to_bytes();
                let result =
                    self.inner
                        .miner
                        .borrow_mut()
                        .start(job.id, header, js_sys::Date::now());
                if let Err(e) = result {
                    self.miner_failed(e.to_string());
                }
            }
            Action::StopMining => {
                self.inner.miner.borrow_mut().stop();
                self.emit_hashrate();
            }
            Action::Notify(n) => self.notify(n),
        }
    }

    fn send_frame(&self, peer: PeerId, frame: &[u8]) {
        let link = self.inner.link.borrow();
        if link.peer != peer || !link.open {
            return;
        }
        if let Some(c) = &link.conn {
            if let Err(e) = c.send(frame) {
                console_warn(&e.to_string());
            }
        }
    }

    // ----- notifications and page events --------------------------------------------------

    fn notify(&self, n: Notification) {
        if matches!(
            n,
            Notification::MessageIn { .. } | Notification::MessageOut { .. }
        ) {
            self.keep_message(n);
            return;
        }
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
            if !self.inner.local_txids.borrow().contains(&Txid(*hash)) {
                return;
            }
        }
        let Some((name, payload)) = views::event_for(&n, |p| self.peer_node(p), now_ms()) else {
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
    fn flush_messages(&self) {
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
            if let Some((name, payload)) = views::event_for(&n, peer_node, time) {
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
    fn emit(&self, name: &str, payload: &JsValue) {
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
                web_sys::console::error_2(&format!("a listener for {name:?} threw:").into(), &e);
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

    fn emit_hashrate(&self) {
        if !self.has_listener("hashrate") {
            return;
        }
        let view = self.hashrate_view();
        self.emit("hashrate", &to_js(&view));
    }

    fn hashrate_view(&self) -> HashRateView {
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

    fn emit_connection(&self, code: Option<u16>, reason: Option<String>, retry_in_ms: Option<u64>) {
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

    // ----- the relay connection -----------------------------------------------------------

    /// Opens a connection now if none is open or opening.
    fn connect_now(&self) {
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

    // ----- incoming frames and their signatures ------------------------------------------

    /// Queues a frame for the node; a block or transaction whose signatures the node would
    /// check goes to the signature workers first, and waits (with every frame behind it)
    /// until they answer.
    fn receive(&self, peer: PeerId, bytes: Vec<u8>) {
        let id = self.inner.inbound.borrow_mut().take_id();
        let checking = self.submit_signatures(id, &bytes);
        if checking.is_none() && self.inner.inbound.borrow().is_empty() {
            self.handle(Event::Frame { peer, bytes });
            return;
        }
        let abandoned = self
            .inner
            .inbound
            .borrow_mut()
            .push(id, peer, bytes, checking, now_ms());
        if abandoned > 0 {
            // The relay sends faster than the workers check: the node judges (and scores)
            // what was sent, checking those signatures itself.
            console_warn(&format!(
                "node {}: over {MAX_WAITING_BYTES} bytes of frames waited for the signature workers; checking {abandoned} of them in wasm",
                self.inner.node_id
            ));
        }
        self.advance();
    }

    /// Settles, as not vouched for, frames the workers have held longer than
    /// [`VERIFY_TIMEOUT_MS`]: the node checks them itself rather than wait on a stuck worker.
    fn expire_checks(&self) {
        let cutoff = now_ms().saturating_sub(VERIFY_TIMEOUT_MS);
        let expired = self.inner.inbound.borrow().checking_since_before(cutoff);
        if expired.is_empty() {
            return;
        }
        console_warn(&format!(
            "node {}: {} signature checks timed out; checking them in wasm",
            self.inner.node_id,
            expired.len()
        ));
        for id in expired {
            self.settle(id, false);
        }
    }

    /// Sends the signatures of a `block` or `tx` frame to the workers as request `id`, when
    /// the node would check them itself (not under assume-valid); returns what they vouch
    /// for if all hold.
    fn submit_signatures(&self, id: u64, bytes: &[u8]) -> Option<Vouched> {
        let pool = self.inner.verifier.as_ref().filter(|p| p.is_working())?;
        if !matches!(protocol::frame_command(bytes), Ok("block" | "tx")) {
            return None;
        }
        let (vouch, checks) = match protocol::decode_frame(bytes).ok()? {
            Message::Block(block) => {
                let height = block.coinbase_height()?;
                let node = self.inner.node.borrow();
                let hash = block.hash();
                // A block the node already has, or refused, costs the workers nothing: the
                // node turns it away without looking at a signature.
                let known = node
                    .chain()
                    .is_some_and(|c| c.contains(&hash) || c.is_invalid(&hash));
                if known || !node.checks_signatures_at(height) {
                    return None;
                }
                drop(node);
                (Vouched::Block(hash), pack_checks(&block.transactions)?)
            }
            Message::Tx(tx) => {
                let txid = tx.txid();
                if self.inner.node.borrow().mempool().contains(&txid) {
                    return None;
                }
                (Vouched::Tx(txid), pack_checks(std::slice::from_ref(&tx))?)
            }
            _ => return None,
        };
        pool.submit(id, &checks).then_some(vouch)
    }

    /// Records the workers' answer for frame `id` and lets the queue move.
    fn settle(&self, id: u64, ok: bool) {
        self.inner.inbound.borrow_mut().settle(id, ok);
        self.advance();
    }

    /// Hands the settled frames at the head of the queue to the node, in order. Frames of a
    /// connection that has since closed are dropped.
    fn advance(&self) {
        loop {
            let next = self.inner.inbound.borrow_mut().pop_ready();
            let Some(frame) = next else { break };
            let current = {
                let link = self.inner.link.borrow();
                link.open && link.peer == frame.peer
            };
            if !current {
                continue;
            }
            if frame.verified.is_some() {
                self.inner.vouched.set(self.inner.vouched.get() + 1);
            }
            match frame.verified {
                Some(Vouched::Block(hash)) => {
                    self.inner.node.borrow_mut().note_verified_block(hash)
                }
                Some(Vouched::Tx(txid)) => {
                    self.inner.node.borrow_mut().note_verified_signatures(txid)
                }
                None => {}
            }
            self.handle(Event::Frame {
                peer: frame.peer,
                bytes: frame.bytes,
            });
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

    // ----- ticks and workers --------------------------------------------------------------

    fn tick(&self) {
        self.handle(Event::Tick);
        self.flush_messages();
        self.expire_checks();
        self.maybe_compact();
        let sample = self.inner.miner.borrow_mut().sample(js_sys::Date::now());
        if sample.is_some() {
            self.emit_hashrate();
        }
    }

    /// Compacts the chain journal when it has grown long and the node is not downloading.
    fn maybe_compact(&self) {
        let inner = &self.inner;
        if inner.compacting.get()
            || !inner.store.needs_compaction()
            || inner.storage_error.borrow().is_some()
            || inner.node.borrow().is_syncing()
        {
            return;
        }
        inner.compacting.set(true);
        let driver = self.clone();
        spawn_local(async move {
            driver.compact().await;
            driver.inner.compacting.set(false);
        });
    }

    /// Rewrites the journal from the chain in memory. Taking the state and starting the
    /// write happen in one step, so every write queued after it lands after it.
    async fn compact(&self) {
        let started = match self.inner.node.borrow().chain() {
            Some(chain) => self.inner.store.compact(chain),
            None => return,
        };
        let result = match started {
            Ok(commit) => commit.await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            console_warn(&format!(
                "node {}: compacting storage: {e}",
                self.inner.node_id
            ));
        }
    }

    fn on_worker(&self, index: usize, report: WorkerReport) {
        match report {
            WorkerReport::Progress(tried) => self.inner.miner.borrow_mut().record(index, tried),
            WorkerReport::Found { job, nonce } => {
                if self.inner.miner.borrow().job_id() != Some(job) {
                    return;
                }
                self.inner.miner.borrow_mut().stop();
                let result = self
                    .inner
                    .node
                    .borrow_mut()
                    .block_mined(now_ms(), job, nonce);
                self.drain();
                self.emit_hashrate();
                match result {
                    Ok(_) | Err(MinedError::StaleJob(_)) => {}
                    Err(e) => console_warn(&format!("node {}: {e}", self.inner.node_id)),
                }
            }
            WorkerReport::Exhausted => {}
            WorkerReport::Failed(message) => {
                self.miner_failed(format!("worker {index}: {message}"))
            }
        }
    }

    fn miner_failed(&self, message: String) {
        console_error(&format!("node {}: mining: {message}", self.inner.node_id));
        *self.inner.miner_error.borrow_mut() = Some(message);
    }

    // ----- commands -----------------------------------------------------------------------

    /// Makes a new key; returns its address.
    pub async fn create_wallet(&self) -> Result<String, NodeError> {
        self.check_open()?;
        let address = self.inner.wallet.create(now_ms()).await?.to_string();
        self.emit(
            "wallet",
            &to_js(&views::WalletEvent {
                address: address.clone(),
            }),
        );
        Ok(address)
    }

    /// The wallet's addresses, oldest first.
    pub fn list_addresses(&self) -> Vec<String> {
        self.inner
            .wallet
            .addresses()
            .iter()
            .map(Address::to_string)
            .collect()
    }

    /// The wallet's addresses with their balances.
    pub fn balances(&self) -> Vec<AddressView> {
        let node = self.inner.node.borrow();
        let utxo = node.chain().map(|c| c.utxo());
        self.inner
            .wallet
            .addresses()
            .iter()
            .map(|a| AddressView::of(a, utxo, node.mempool()))
            .collect()
    }

    /// Confirmed balance of any address.
    pub fn balance(&self, address: &str) -> Result<u64, NodeError> {
        let a = parse_address(address)?;
        Ok(self.inner.node.borrow().balance(&a.0))
    }

    /// Pays `amount` from a wallet address to any address; returns the txid.
    pub fn send(&self, from: &str, to: &str, amount: u64) -> Result<String, NodeError> {
        self.check_open()?;
        let from_address = parse_address(from)?;
        let to_address = parse_address(to)?;
        let key = self
            .inner
            .wallet
            .key(&from_address)
            .ok_or_else(|| NodeError::NotInWallet(from_address.to_string()))?;
        if amount == 0 {
            return Err(NodeError::InvalidAmount("0".into()));
        }
        let result =
            self.inner
                .node
                .borrow_mut()
                .send_payment(now_ms(), &key, to_address.0, amount, 0);
        self.drain();
        let txid = result.map_err(NodeError::Send)?;
        let mut local = self.inner.local_txids.borrow_mut();
        local.push(txid);
        if local.len() > 1000 {
            local.remove(0);
        }
        Ok(txid.to_string())
    }

    /// Mines to `address` whenever enough transactions wait.
    pub fn start_mining(&self, address: &str) -> Result<(), NodeError> {
        self.check_open()?;
        let a = parse_address(address)?;
        *self.inner.miner_error.borrow_mut() = None;
        self.inner.node.borrow_mut().start_mining(now_ms(), a.0);
        self.drain();
        Ok(())
    }

    /// Stops mining.
    pub fn stop_mining(&self) {
        self.inner.node.borrow_mut().stop_mining();
        self.inner.miner.borrow_mut().stop();
        self.drain();
        self.emit_hashrate();
    }

    /// Changes the number of mining workers.
    pub fn set_workers(&self, count: usize) -> Result<(), NodeError> {
        self.inner.miner.borrow_mut().set_count(count)
    }

    /// The node's summary.
    pub fn status(&self) -> StatusView {
        let s = self.inner.node.borrow().status();
        let assume_valid = self.inner.node.borrow().config().params.assume_valid;
        let link = self.inner.link.borrow();
        let miner = self.inner.miner.borrow();
        StatusView {
            node_id: s.node_id,
            height: s.height,
            tip: s.tip.map(|h| h.to_string()),
            genesis: s.genesis.map(|h| h.to_string()),
            peers: s.peers,
            mempool: s.mempool,
            syncing: s.syncing,
            target_height: s.target_height,
            downloaded_height: s.downloaded_height,
            orphans: s.orphans,
            mining: s.mining_to.is_some(),
            mining_to: s.mining_to.map(|p| Address(p).to_string()),
            mining_active: miner.is_active(),
            hashrate: {
                drop(miner);
                self.hashrate_view()
            },
            blocks_mined: self.inner.blocks_mined.get(),
            workers: self.inner.miner.borrow().count(),
            connected: link.open,
            connection: link.state.to_string(),
            relay: shown(&link.url, MAX_URL_CHARS),
            storage_error: self.inner.storage_error.borrow().clone(),
            storage_warnings: self.inner.storage_warnings.clone(),
            miner_error: self
                .inner
                .miner_error
                .borrow()
                .as_deref()
                .map(|m| shown(m, MAX_REASON_CHARS)),
            verify_workers: self
                .inner
                .verifier
                .as_ref()
                .map_or(0, VerifierPool::working_count),
            signatures_vouched: self.inner.vouched.get(),
            assume_valid: assume_valid.map(|(height, hash)| views::AssumeValidView {
                height,
                hash: hash.to_string(),
            }),
        }
    }

    /// Active blocks, newest first (at most `limit`).
    pub fn print_chain(&self, limit: Option<usize>) -> Vec<BlockView> {
        let node = self.inner.node.borrow();
        let Some(chain) = node.chain() else {
            return Vec::new();
        };
        let limit = limit.unwrap_or(usize::MAX);
        (0..=chain.height())
            .rev()
            .take(limit)
            .filter_map(|h| chain.block_at(h))
            .map(|b| BlockView::of(b, chain))
            .collect()
    }

    /// A stored block by hash (active or side branch).
    pub fn block(&self, hash: &str) -> Option<BlockView> {
        let hash = BlockHash::from_hex(hash)?;
        let node = self.inner.node.borrow();
        let chain = node.chain()?;
        chain.block(&hash).map(|b| BlockView::of(b, chain))
    }

    /// Every known block of the last `depth` heights, side branches included.
    pub fn block_tree(&self, depth: u64) -> Vec<views::TreeNodeView> {
        let node = self.inner.node.borrow();
        node.chain()
            .map(|c| views::block_tree(c, depth))
            .unwrap_or_default()
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<views::PeerView> {
        let url = self.inner.link.borrow().url.clone();
        self.inner
            .node
            .borrow()
            .peers()
            .iter()
            .map(|p| views::PeerView::of(p, &url))
            .collect()
    }

    /// Nodes heard of.
    pub fn known_nodes(&self) -> Vec<views::KnownNodeView> {
        self.inner
            .node
            .borrow()
            .known_addrs()
            .iter()
            .map(views::KnownNodeView::of)
            .collect()
    }

    /// Transactions waiting in the mempool, in arrival order.
    pub fn mempool(&self) -> Vec<views::MempoolTxView> {
        self.inner
            .node
            .borrow()
            .mempool()
            .in_order()
            .into_iter()
            .map(|(tx, fee)| views::MempoolTxView {
                fee,
                tx: views::TxView::of(tx),
            })
            .collect()
    }

    /// Stops everything: connection, timer, workers. Storage keeps what was written.
    pub fn close(&self) {
        self.inner.closed.set(true);
        self.disconnect();
        self.inner.ticker.borrow_mut().take();
        self.inner.miner.borrow_mut().shutdown();
        if let Some(pool) = &self.inner.verifier {
            pool.shutdown();
        }
        self.inner.listeners.borrow_mut().clear();
    }

    /// Resolves once every queued action (writes included) has been carried out.
    pub async fn flush(&self) {
        while self.inner.pumping.get() || !self.inner.queue.borrow().is_empty() {
            TimeoutFuture::new(5).await;
        }
    }
}

impl From<SendError> for NodeError {
    fn from(e: SendError) -> Self {
        NodeError::Send(e)
    }
}
