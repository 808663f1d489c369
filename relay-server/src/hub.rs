//! The hub: the one task that owns the [`Node`].
//!
//! Everything else talks to it by message: connection tasks report peers coming and going
//! and the frames they read, the HTTP side asks for the status or hands over a CLI command,
//! the miner reports nonces, and a timer ticks every 250 ms. After each message the hub
//! carries out the node's actions in order — a `Persist` is committed to the store before
//! the frames after it are queued, so nothing is announced that a crash could lose.
//!
//! The hub never waits on a peer: frames go into each connection's queue, bounded in bytes
//! per peer and for the whole relay ([`crate::send_queue`]), and a peer whose queue is full
//! is disconnected, so a slow tab cannot stall everyone else or exhaust the relay's memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use node_core::chain::ChainChanges;
use node_core::node::peers::PeerId;
use node_core::node::{Action, Event, MinedError, Notification};
use node_core::{Address, Block, Node};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit};
use tracing::{debug, error, info, trace, warn};

use crate::commands::{self, Context, Request, Step};
use crate::miner::{self, Found, Miner};
use crate::peer_conn;
use crate::peer_text::{peer_text, shown};
use crate::send_queue::{QueueRefusal, SendQueue};
use crate::server::Shared;
use crate::store::Store;

/// How often the node's timers run.
pub const TICK: Duration = Duration::from_millis(250);

/// Milliseconds since the Unix epoch: the node's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The hub's side of one connection.
pub struct PeerLink {
    /// Frames to send, bounded in bytes; full means the peer is too slow.
    pub queue: Arc<SendQueue>,
    /// Tells the connection to close, with the reason.
    pub close: oneshot::Sender<String>,
    /// Raised when the peer finishes its handshake: it then keeps its slot when the relay
    /// is full (see [`crate::peer_slots`]).
    pub handshaken: Arc<AtomicBool>,
}

/// What the hub is told.
pub enum HubMsg {
    /// A WebSocket connection opened.
    Connected {
        /// Its handle.
        peer: PeerId,
        /// We dialled it.
        outbound: bool,
        /// The remote address.
        ip: IpAddr,
        /// How to reach it.
        link: PeerLink,
        /// For a connection we dialled: the URL, and whether the operator named it
        /// (`--peer`; only such a peer gives a node without a chain its genesis).
        dialled: Option<(String, bool)>,
    },
    /// A frame arrived.
    Frame {
        /// From whom.
        peer: PeerId,
        /// The untrusted bytes.
        bytes: Bytes,
        /// The frame is a transaction whose signatures the connection's task already
        /// checked (in parallel with other connections): its txid.
        verified_tx: Option<node_core::Txid>,
        /// Released once the hub has handled the frame: how a connection bounds its frames
        /// waiting here (see [`crate::peer_conn::IN_HUB_FRAMES`]).
        held: Option<OwnedSemaphorePermit>,
    },
    /// A connection ended on its side (closed, failed, over its rate).
    Disconnected {
        /// Which.
        peer: PeerId,
        /// Why.
        reason: String,
        /// Whether it broke a rule (its address may then be refused for a while).
        misbehaved: bool,
    },
    /// A CLI command handed over through the control endpoint.
    Control {
        /// The command.
        request: Request,
        /// Its output or its one-line error.
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// `GET /status`.
    Status {
        /// Where to answer.
        reply: oneshot::Sender<StatusReport>,
    },
}

/// The node's summary as `GET /status` serves it (hashes in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// NODE_ID.
    pub node_id: String,
    /// Active height.
    pub height: u64,
    /// Active tip, if there is a chain.
    pub tip: Option<String>,
    /// Genesis, if there is a chain.
    pub genesis: Option<String>,
    /// Peers past the handshake.
    pub peers: usize,
    /// Transactions in the mempool.
    pub mempool: usize,
    /// Behind the best peer.
    pub syncing: bool,
    /// Best height any peer announced.
    pub target_height: u64,
    /// A block template is being mined now.
    pub mining: bool,
    /// Address mined to, if mining is on.
    pub mining_to: Option<String>,
    /// Orphan blocks waiting for their parent.
    pub orphans: usize,
}

/// A `send --mine` block found on a blocking thread, back for submission.
struct ControlMined {
    block: Block,
    reply: oneshot::Sender<Result<String, String>>,
}

struct PeerEntry {
    queue: Arc<SendQueue>,
    handshaken: Arc<AtomicBool>,
    close: Option<oneshot::Sender<String>>,
    ip: IpAddr,
}

/// The task owning the node, its store and its miner.
pub struct Hub {
    node: Node,
    store: Store,
    wallet: PathBuf,
    shared: Arc<Shared>,
    peers: HashMap<PeerId, PeerEntry>,
    /// Node ids of peers past the handshake, for logs.
    names: HashMap<PeerId, String>,
    /// Why the shell closed a connection, for the node's `PeerDown` log line.
    close_reasons: HashMap<PeerId, String>,
    miner: Miner,
    found_rx: Option<mpsc::Receiver<Found>>,
    mined_tx: mpsc::Sender<ControlMined>,
    mined_rx: Option<mpsc::Receiver<ControlMined>>,
    /// `--peer` URLs, which have their own redialling task: never dialled as learned.
    static_peers: Vec<String>,
}

impl Hub {
    /// A hub for `node`, persisting into `store`, signing with the keys in `wallet`.
    pub fn new(node: Node, store: Store, wallet: PathBuf, shared: Arc<Shared>) -> Self {
        let (found_tx, found_rx) = mpsc::channel(16);
        let (mined_tx, mined_rx) = mpsc::channel(16);
        Hub {
            node,
            store,
            wallet,
            shared,
            peers: HashMap::new(),
            names: HashMap::new(),
            close_reasons: HashMap::new(),
            miner: Miner::new(found_tx),
            found_rx: Some(found_rx),
            mined_tx,
            mined_rx: Some(mined_rx),
            static_peers: Vec::new(),
        }
    }

    /// The `--peer` URLs the shell keeps connections to itself.
    pub fn with_static_peers(mut self, urls: Vec<String>) -> Self {
        self.static_peers = urls;
        self
    }

    /// Runs until shutdown is signalled or the inbox closes; an `Err` is a storage failure
    /// the node cannot continue from.
    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<HubMsg>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let (Some(mut found_rx), Some(mut mined_rx)) = (self.found_rx.take(), self.mined_rx.take())
        else {
            return Err("hub started twice".into());
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.carry_out()?;
        loop {
            // A frame's permit is given back once what the node did about it (its answers
            // queued, say) is carried out, so its connection sees those bytes before it
            // reads on.
            let mut held = None;
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                msg = inbox.recv() => match msg {
                    Some(m) => held = self.on_message(m)?,
                    None => break,
                },
                Some(found) = found_rx.recv() => self.on_found(found),
                Some(mined) = mined_rx.recv() => self.on_control_mined(mined)?,
                _ = tick.tick() => self.node.handle(now_ms(), Event::Tick),
            }
            self.carry_out()?;
            drop(held);
        }
        self.miner.stop();
        for (_, entry) in self.peers.drain() {
            entry.queue.close();
            if let Some(close) = entry.close {
                let _ = close.send("node shutting down".into());
            }
        }
        Ok(())
    }

    /// Handles one message; returns the frame's permit, if it carried one.
    fn on_message(&mut self, msg: HubMsg) -> Result<Option<OwnedSemaphorePermit>, String> {
        let now = now_ms();
        let mut permit = None;
        match msg {
            HubMsg::Connected {
                peer,
                outbound,
                ip,
                link,
                dialled,
            } => {
                debug!(peer, %ip, outbound, "connection opened");
                self.peers.insert(
                    peer,
                    PeerEntry {
                        queue: link.queue,
                        handshaken: link.handshaken,
                        close: Some(link.close),
                        ip,
                    },
                );
                let event = match dialled {
                    Some((url, named)) => Event::Dialled { peer, url, named },
                    None => Event::PeerConnected { peer, outbound },
                };
                self.node.handle(now, event);
            }
            HubMsg::Frame {
                peer,
                bytes,
                verified_tx,
                held,
            } => {
                permit = held;
                // Frames still queued from a peer we already dropped are ignored.
                if self.peers.contains_key(&peer) {
                    if let Some(txid) = verified_tx {
                        self.node.note_verified_signatures(txid);
                    }
                    self.node.handle(
                        now,
                        Event::Frame {
                            peer,
                            bytes: bytes.to_vec(),
                        },
                    );
                }
            }
            HubMsg::Disconnected {
                peer,
                reason,
                misbehaved,
            } => {
                if let Some(entry) = self.peers.remove(&peer) {
                    if misbehaved {
                        self.refuse_address(entry.ip, &reason);
                    }
                    self.close_reasons.insert(peer, reason);
                    self.node.handle(now, Event::PeerDisconnected { peer });
                }
            }
            HubMsg::Control { request, reply } => self.on_control(now, request, reply)?,
            HubMsg::Status { reply } => {
                let _ = reply.send(self.status());
            }
        }
        Ok(permit)
    }

    fn status(&self) -> StatusReport {
        let s = self.node.status();
        StatusReport {
            node_id: s.node_id,
            height: s.height,
            tip: s.tip.map(|h| h.to_string()),
            genesis: s.genesis.map(|h| h.to_string()),
            peers: s.peers,
            mempool: s.mempool,
            syncing: s.syncing,
            target_height: s.target_height,
            mining: s.mining_active && self.miner.is_active(),
            mining_to: s.mining_to.map(|p| Address(p).to_string()),
            orphans: s.orphans,
        }
    }

    fn on_control(
        &mut self,
        now: u64,
        request: Request,
        reply: oneshot::Sender<Result<String, String>>,
    ) -> Result<(), String> {
        debug!(command = ?request, "control command");
        let ctx = Context {
            node: &mut self.node,
            wallet: &self.wallet,
            now,
            running: true,
        };
        match commands::execute(ctx, &request) {
            Ok(Step::Done(out)) => {
                let _ = reply.send(Ok(out));
            }
            Ok(Step::Persist(changes, out)) => {
                if let Err(e) = self.persist(&changes) {
                    let _ = reply.send(Err(e.clone()));
                    return Err(e);
                }
                let _ = reply.send(Ok(out));
            }
            Ok(Step::Mine(template)) => {
                // Mining can take a while; the hub keeps serving peers meanwhile.
                let back = self.mined_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let mut block = template;
                    let never = AtomicBool::new(false);
                    if let Some(nonce) = miner::solve(&block.header, &never) {
                        block.header.nonce = nonce;
                        let _ = back.blocking_send(ControlMined { block, reply });
                    }
                });
            }
            Ok(Step::Relay(..)) => {
                let _ = reply.send(Err("a running node submits payments itself".into()));
            }
            Err(e) => {
                let _ = reply.send(Err(e.one_line()));
            }
        }
        Ok(())
    }

    /// Submits a `send --mine` block and answers the CLI only once the block is committed:
    /// "Success!" is an acknowledgement that a `kill -9` right after it must not undo.
    fn on_control_mined(&mut self, mined: ControlMined) -> Result<(), String> {
        let result = commands::finish_mined(&mut self.node, now_ms(), mined.block);
        let committed = self.carry_out();
        let answer = match (&committed, result) {
            (Err(e), _) => Err(e.clone()),
            (Ok(()), result) => result.map_err(|e| e.one_line()),
        };
        let _ = mined.reply.send(answer);
        committed
    }

    fn on_found(&mut self, found: Found) {
        match self.node.block_mined(now_ms(), found.job_id, found.nonce) {
            Ok(hash) => debug!(%hash, "mined block accepted"),
            Err(MinedError::StaleJob(id)) => debug!(job = id, "nonce for a replaced job ignored"),
            Err(e) => warn!("mined block not used: {e}"),
        }
    }

    /// Carries out the node's actions in order.
    fn carry_out(&mut self) -> Result<(), String> {
        while let Some(action) = self.node.poll_action() {
            match action {
                Action::Send { peer, frame } => self.send_to(peer, Bytes::from(frame)),
                Action::Broadcast { peers, frame } => {
                    let frame = Bytes::from(frame);
                    for peer in peers {
                        self.send_to(peer, frame.clone());
                    }
                }
                Action::Disconnect {
                    peer,
                    reason,
                    misbehaved,
                } => {
                    if let Some(entry) = self.close(peer, &reason) {
                        if misbehaved {
                            self.refuse_address(entry.ip, &reason);
                        }
                    }
                }
                Action::Persist(changes) => self.persist(&changes)?,
                Action::Dial { url } => {
                    if !self.static_peers.contains(&url) {
                        tokio::spawn(peer_conn::dial_learned(self.shared.clone(), url));
                    }
                }
                Action::Mine(job) => {
                    info!(
                        job = job.id,
                        height = job.template.coinbase_height().unwrap_or(0),
                        txs = job.template.transactions.len(),
                        "mining a block"
                    );
                    self.miner.start(job);
                }
                Action::StopMining => {
                    debug!("mining stopped");
                    self.miner.stop();
                }
                Action::Notify(n) => self.log(n),
            }
        }
        Ok(())
    }

    /// Queues a frame for a peer. A peer whose queue would go over its limit is dropped; so
    /// are the peers holding the most, while the relay's total would.
    fn send_to(&mut self, peer: PeerId, frame: Bytes) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        let budget = self.shared.send_budget.clone();
        while !budget.fits(frame.len()) {
            let largest = self
                .peers
                .iter()
                .max_by_key(|(_, e)| e.queue.bytes())
                .map(|(id, _)| *id);
            let Some(largest) = largest else { break };
            let reason = format!(
                "the relay's send queues are full ({} bytes) and this peer's is the largest",
                budget.limit
            );
            self.drop_slow(largest, &reason);
            if largest == peer {
                return;
            }
        }
        let Some(entry) = self.peers.get(&peer) else {
            return;
        };
        match entry.queue.push(frame) {
            Ok(()) | Err(QueueRefusal::Closed) => {}
            Err(full @ QueueRefusal::Full(_)) => self.drop_slow(peer, &full.to_string()),
        }
    }

    /// Drops a peer that does not read, freeing what was queued for it at once.
    fn drop_slow(&mut self, peer: PeerId, reason: &str) {
        if let Some(entry) = self.peers.get(&peer) {
            entry.queue.discard();
        }
        if self.close(peer, reason).is_some() {
            self.node.handle(now_ms(), Event::PeerDisconnected { peer });
        }
    }

    /// Tells a connection to close and forgets it.
    fn close(&mut self, peer: PeerId, reason: &str) -> Option<PeerEntry> {
        let mut entry = self.peers.remove(&peer)?;
        // Frames queued before (a `reject`, say) are still written; nothing after.
        entry.queue.close();
        if let Some(close) = entry.close.take() {
            let _ = close.send(reason.to_string());
        }
        self.close_reasons.insert(peer, reason.to_string());
        Some(entry)
    }

    /// Refuses a misbehaving address for a while, except loopback: every tab of a local
    /// browser shares it, so one bad tab must not lock out the others.
    fn refuse_address(&self, ip: IpAddr, reason: &str) {
        if self.shared.refuse(ip) {
            let secs = self.shared.limits.ban_duration.as_secs();
            let reason = peer_text(reason);
            warn!(%ip, "address refused for {secs} s: {reason}");
        } else {
            let reason = peer_text(reason);
            info!(%ip, "misbehaving loopback peer disconnected, address not refused: {reason}");
        }
    }

    /// Commits one change set; the node must not go on if it cannot.
    fn persist(&self, changes: &ChainChanges) -> Result<(), String> {
        tokio::task::block_in_place(|| self.store.apply(std::slice::from_ref(changes))).map_err(
            |e| {
                error!("cannot persist chain changes: {e}");
                e.to_string()
            },
        )
    }

    fn who(&self, peer: PeerId) -> String {
        match self.names.get(&peer) {
            Some(id) => format!("peer {peer} (node {})", peer_text(id)),
            None => format!("peer {peer}"),
        }
    }

    /// One log line per notable event.
    fn log(&mut self, n: Notification) {
        match n {
            Notification::TipChanged {
                tip,
                height,
                reorg_depth,
            } => {
                if reorg_depth > 0 {
                    warn!(%tip, height, reorg_depth, "chain reorganised");
                } else {
                    debug!(%tip, height, "tip changed");
                }
            }
            Notification::BlockConnected { hash, height, txs } => {
                info!(%hash, height, txs, "block connected");
            }
            Notification::SideBlock { hash } => info!(%hash, "side-branch block stored"),
            Notification::BlockRejected { hash, reason, from } => {
                let from = from.map_or("this node".into(), |p| self.who(p));
                let reason = peer_text(&reason);
                warn!(%hash, "block from {from} rejected: {reason}");
            }
            Notification::TxAccepted { txid, from } => {
                let from = from.map_or("this node".into(), |p| self.who(p));
                info!(%txid, "transaction from {from} accepted");
            }
            Notification::TxRejected { txid, reason, from } => {
                let from = from.map_or("this node".into(), |p| self.who(p));
                let reason = peer_text(&reason);
                warn!(%txid, "transaction from {from} rejected: {reason}");
            }
            Notification::SyncProgress { height, target } => {
                info!(height, target, "sync progress");
            }
            Notification::PeerUp {
                peer,
                node_id,
                role,
                height,
            } => {
                info!(peer, node_id = %peer_text(&node_id), role = role.name(), height, "peer up");
                if let Some(entry) = self.peers.get(&peer) {
                    entry.handshaken.store(true, Ordering::Release);
                }
                self.names.insert(peer, node_id);
            }
            Notification::PeerDown { peer, reason } => {
                let reason = self.close_reasons.remove(&peer).unwrap_or(reason);
                info!("{} down: {}", self.who(peer), peer_text(&reason));
                self.names.remove(&peer);
            }
            Notification::PeerPenalised {
                peer,
                score,
                reason,
            } => {
                warn!(
                    score,
                    "{} penalised: {}",
                    self.who(peer),
                    peer_text(&reason)
                );
            }
            Notification::AddrLearned(addrs) => {
                let ids: Vec<String> = addrs
                    .iter()
                    .map(|a| peer_text(&a.node_id).to_string())
                    .collect();
                debug!(nodes = %ids.join(", "), "nodes learned");
            }
            Notification::RejectReceived { peer, hash, reason } => {
                let reason = peer_text(&reason);
                warn!(%hash, "{} refused what we sent: {reason}", self.who(peer));
            }
            Notification::Mined { hash, height } => info!(%hash, height, "mined a block"),
            Notification::MessageIn {
                peer,
                command,
                summary,
                refused,
            } => {
                let refused = refused.as_deref().map_or_else(String::new, shown);
                trace!(peer, command = %peer_text(&command), summary = %peer_text(&summary),
                    refused, "message in");
            }
            Notification::MessageOut {
                peers,
                command,
                summary,
            } => trace!(?peers, command = %peer_text(&command), summary = %peer_text(&summary),
                "message out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Limits;
    use node_core::node::NodeConfig;
    use node_core::protocol::{encode_frame, Message, Role, Version, PROTOCOL_VERSION};
    use node_core::{BlockHash, ChainParams, PubKeyHash};
    use std::net::Ipv4Addr;

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    struct Fixture {
        inbox: mpsc::Sender<HubMsg>,
        shared: Arc<Shared>,
        genesis: BlockHash,
        _stop: watch::Sender<bool>,
        _dir: tempfile::TempDir,
    }

    fn start_hub() -> TestResult<Fixture> {
        let dir = tempfile::tempdir()?;
        let store = Store::create(&dir.path().join("chain.db"))?;
        let mut chain = commands::new_chain(PubKeyHash([1; 20]), 4, now_ms())?;
        store.apply(&[chain.take_changes()])?;
        let chain = store.load_chain(ChainParams::default())?;
        let genesis = chain.as_ref().map(|c| c.genesis_hash()).unwrap_or_default();
        let node = Node::new(NodeConfig::default(), chain);
        let (stop, stop_rx) = watch::channel(false);
        let (inbox, rx) = mpsc::channel(64);
        let limits = Limits {
            max_peers: 10,
            ..Limits::default()
        };
        let shared = Arc::new(Shared::new(
            inbox.clone(),
            "cookie".into(),
            limits,
            stop_rx.clone(),
        ));
        let hub = Hub::new(node, store, dir.path().join("wallet.dat"), shared.clone());
        tokio::spawn(hub.run(rx, stop_rx));
        Ok(Fixture {
            inbox,
            shared,
            genesis,
            _stop: stop,
            _dir: dir,
        })
    }

    /// A fake connection whose queue holds `queue` bytes.
    async fn connect(
        f: &Fixture,
        peer: PeerId,
        ip: IpAddr,
        queue: usize,
    ) -> TestResult<(Arc<SendQueue>, oneshot::Receiver<String>)> {
        let frames = SendQueue::new(queue, f.shared.send_budget.clone());
        let (close, close_rx) = oneshot::channel();
        let link = PeerLink {
            queue: frames.clone(),
            close,
            handshaken: Arc::new(AtomicBool::new(false)),
        };
        let msg = HubMsg::Connected {
            peer,
            outbound: false,
            ip,
            link,
            dialled: None,
        };
        f.inbox.send(msg).await.map_err(|_| "the hub stopped")?;
        Ok((frames, close_rx))
    }

    fn version(genesis: BlockHash) -> Bytes {
        Bytes::from(encode_frame(&Message::Version(Version {
            protocol: PROTOCOL_VERSION,
            genesis,
            best_height: 0,
            tip: genesis,
            chain_work: 0,
            node_id: "test".into(),
            role: Role::Wallet,
            listen_url: None,
            nonce: 99,
            user_agent: "test".into(),
        })))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_whose_queue_is_full_is_dropped() -> TestResult {
        let f = start_hub()?;
        // Room for a few bytes; the handshake answer is two frames (version, verack).
        let (_frames, close) = connect(&f, 1, IpAddr::V4(Ipv4Addr::LOCALHOST), 40).await?;
        let bytes = version(f.genesis);
        f.inbox
            .send(HubMsg::Frame {
                peer: 1,
                bytes,
                verified_tx: None,
                held: None,
            })
            .await
            .map_err(|_| "the hub stopped")?;
        let reason = close.await?;
        assert!(reason.contains("send queue"), "{reason}");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn misbehaving_addresses_are_refused_except_loopback() -> TestResult {
        let f = start_hub()?;
        let remote = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for (peer, ip) in [(1, remote), (2, local)] {
            let (_frames, close) = connect(&f, peer, ip, 1 << 20).await?;
            let bytes = Bytes::from_static(b"XXXXnot a frame at all");
            f.inbox
                .send(HubMsg::Frame {
                    peer,
                    bytes,
                    verified_tx: None,
                    held: None,
                })
                .await
                .map_err(|_| "the hub stopped")?;
            let reason = close.await?;
            assert!(reason.contains("misbehaving"), "{reason}");
        }
        assert!(
            f.shared.is_refused(remote),
            "a remote address is refused for a while"
        );
        assert!(!f.shared.is_refused(local), "loopback never is");
        Ok(())
    }
}
