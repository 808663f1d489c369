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
//!
//! # Where it lives
//! - this file: the configuration, the driver's state and its life (start, tick, close);
//! - [`pump`]: feeding the node and the queue of its actions, carried out in order, with
//!   writes batched into IndexedDB transactions;
//! - [`tab_shell`]: what the tab does with each action (node-core's `Shell`);
//! - [`link`]: the relay connection and reconnecting to it;
//! - [`inbound_frames`]: frames waiting for the signature workers before the node sees them;
//! - [`page_events`]: notifications turned into the page's events, and its listeners;
//! - [`mining`]: the mining workers' reports;
//! - [`compaction`]: rewriting the chain journal when it has grown long;
//! - [`commands`]: what the page asks through `window.node`;
//! - [`payments`]: the wallet's payments followed through their life, and the transaction
//!   index behind them.
//!
//! May depend on: node-core and the crate's other modules (storage, transport, miner,
//! verifier, views, wallet); nothing depends on these submodules but this file.

mod commands;
mod compaction;
mod inbound_frames;
mod link;
mod mining;
mod page_events;
mod payments;
mod pump;
mod tab_shell;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use gloo_timers::callback::Interval;
use gloo_timers::future::TimeoutFuture;
use js_sys::Function;
use node_core::node::SendError;
use node_core::protocol::Role;
use node_core::{Action, ChainParams, Event, Node, NodeConfig, Notification};
use wasm_bindgen_futures::spawn_local;

use crate::body_file::BodyFile;
use crate::error::NodeError;
use crate::inbound::InboundQueue;
use crate::miner::{MinerPool, WorkerReport};
use crate::peer_text::console_warn;
use crate::storage::ChainStore;
use crate::stored_bodies::StoredBodies;
use crate::transport::Backoff;
use crate::tx_index::TxIndex;
use crate::verifier::VerifierPool;
use crate::wallet::Wallet;
use link::Link;

/// How often the node is ticked.
const TICK_MS: u32 = 250;

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
    /// Replay the stored chain from genesis before using it (option `verifyStorage`, the
    /// page's "verify my chain"); a plain start only checks what needs no body read
    /// ([`crate::journal_audit`]).
    pub replay_storage: bool,
}

struct Inner {
    node_id: String,
    node: RefCell<Node>,
    store: ChainStore,
    /// Block bodies and undo records, in the body file.
    bodies: Arc<StoredBodies>,
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
    /// The wallet's own payments of this session, with their last state shown.
    payments: RefCell<Vec<payments::TrackedPayment>>,
    /// The active chain's newest transactions, by txid and by address.
    index: RefCell<TxIndex>,
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
        let (file, in_memory) = BodyFile::open(&format!("bodies-{}", config.node_id)).await?;
        storage_warnings.extend(in_memory);
        let bodies = Arc::new(StoredBodies::new(file, Default::default()));
        let chain = match store
            .load(params.clone(), &bodies, config.replay_storage)
            .await
        {
            Ok(chain) => chain,
            Err(NodeError::Corrupt(why)) => {
                storage_warnings.push(format!(
                    "the stored chain was not used ({why}); it is downloaded again"
                ));
                store.clear().await?;
                bodies.clear()?;
                None
            }
            Err(e) => return Err(e),
        };
        let wallet = Wallet::open(&format!("wallet-{}", config.node_id)).await?;
        storage_warnings.extend(wallet.unreadable_summary());
        for warning in &storage_warnings {
            console_warn(&format!("node {}: {warning}", config.node_id));
        }
        let nonce = crate::web_random::u64()?;
        let node_config = NodeConfig {
            node_id: config.node_id.clone(),
            role: Role::Wallet,
            nonce,
            params,
            mining_threshold: config.mining_threshold,
            trace_messages: true,
            user_agent: format!("blockchain-wasm-tab/{}", env!("CARGO_PKG_VERSION")),
            ..NodeConfig::default()
        };
        let index = chain.as_ref().map(TxIndex::of_chain).unwrap_or_default();
        let mut node = Node::new(node_config, chain);
        node.keep_bodies_in(bodies.clone());
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
                bodies,
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
                payments: RefCell::new(Vec::new()),
                index: RefCell::new(index),
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
        // Written bodies are flushed; a node started again in this worker opens the file.
        self.inner.bodies.file().close();
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
