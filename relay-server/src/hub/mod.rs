//! The hub: the one task that owns the [`Node`].
//!
//! Everything else talks to it by message ([`messages`]): connection tasks report peers
//! coming and going and the frames they read, the HTTP side asks for the status or hands
//! over a CLI command, the miner reports nonces, and a timer ticks every 250 ms. After each
//! message the hub carries out the node's actions in order, through node-core's
//! [`Shell`](node_core::node::shell::Shell) ([`shell`]) — a `Persist` is committed to the
//! store before the frames after it are queued, so nothing is announced that a crash could
//! lose.
//!
//! The hub never waits on a peer: frames go into each connection's queue, bounded in bytes
//! per peer and for the whole relay ([`send_queue`]), and a peer whose queue is full is
//! disconnected, so a slow tab cannot stall everyone else or exhaust the relay's memory. It
//! never opens a connection either: a dial the node wants is handed to a [`Dialer`].
//!
//! May depend on: `commands`, `store`, `admission` (the bans table), `metrics`, `util`.

pub mod log;
pub mod messages;
pub mod miner;
pub mod send_queue;
pub mod shell;

pub use messages::{ControlError, Dialer, Dialled, HubMsg, PeerLink, StatusReport};

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use node_core::chain::ChainChanges;
use node_core::node::peers::PeerId;
use node_core::node::{Event, MinedError};
use node_core::{Address, Block, Node};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit};
use tracing::{debug, error, warn};

use crate::admission::Bans;
use crate::commands::{self, Context, Request, Step};
use crate::metrics::{Gauges, Metrics};
use crate::store::{Store, StoreError};
use crate::util::now_ms;
use miner::{Found, Miner};
use send_queue::{SendBudget, SendQueue};

/// How often the node's timers run.
pub const TICK: Duration = Duration::from_millis(250);

/// Nonces found by the background miner waiting for the hub: one job runs at a time, so a
/// few are plenty.
const FOUND_QUEUE: usize = 16;

/// `send --mine` blocks waiting for the hub: one per CLI command in flight.
const CONTROL_MINED_QUEUE: usize = 16;

/// Why the hub stopped before it was told to.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// [`Hub::run`] was called on a hub that had run before.
    #[error("hub started twice")]
    StartedTwice,
    /// A change set could not be committed: the node must not go on as if it were.
    #[error(transparent)]
    Persist(#[from] Arc<StoreError>),
}

/// What the hub is handed besides the node: the relay-wide byte budget of the send queues,
/// the table of refused addresses, and where to ask for dials.
pub struct Wiring {
    /// Bytes queued for all peers together.
    pub send_budget: Arc<SendBudget>,
    /// Addresses refused for misbehaviour.
    pub bans: Arc<Bans>,
    /// Where dials the node asks for go.
    pub dialer: Dialer,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// A `send --mine` block found on a blocking thread, back for submission.
struct ControlMined {
    block: Block,
    reply: oneshot::Sender<Result<String, ControlError>>,
}

/// The hub's record of one open connection.
struct PeerEntry {
    queue: Arc<SendQueue>,
    handshaken: Arc<AtomicBool>,
    close: Option<oneshot::Sender<String>>,
    ip: IpAddr,
    outbound: bool,
}

/// The task owning the node, its store and its miner.
pub struct Hub {
    node: Node,
    store: Store,
    wallet: PathBuf,
    wiring: Wiring,
    peers: HashMap<PeerId, PeerEntry>,
    /// Node ids of peers past the handshake, for logs.
    names: HashMap<PeerId, String>,
    /// Roles of peers past the handshake, for `/metrics`.
    roles: HashMap<PeerId, node_core::protocol::Role>,
    /// Why the shell closed a connection, for the node's `PeerDown` log line.
    close_reasons: HashMap<PeerId, String>,
    miner: Miner,
    found_rx: Option<mpsc::Receiver<Found>>,
    mined_tx: mpsc::Sender<ControlMined>,
    mined_rx: Option<mpsc::Receiver<ControlMined>>,
}

impl Hub {
    /// A hub for `node`, persisting into `store`, signing with the keys in `wallet`.
    pub fn new(node: Node, store: Store, wallet: PathBuf, wiring: Wiring) -> Self {
        let (found_tx, found_rx) = mpsc::channel(FOUND_QUEUE);
        let (mined_tx, mined_rx) = mpsc::channel(CONTROL_MINED_QUEUE);
        Hub {
            node,
            store,
            wallet,
            wiring,
            peers: HashMap::new(),
            names: HashMap::new(),
            roles: HashMap::new(),
            close_reasons: HashMap::new(),
            miner: Miner::new(found_tx),
            found_rx: Some(found_rx),
            mined_tx,
            mined_rx: Some(mined_rx),
        }
    }

    /// Runs until shutdown is signalled or the inbox closes; an `Err` is a storage failure
    /// the node cannot continue from.
    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<HubMsg>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), HubError> {
        let (Some(mut found_rx), Some(mut mined_rx)) = (self.found_rx.take(), self.mined_rx.take())
        else {
            return Err(HubError::StartedTwice);
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
        if !self.peers.is_empty() {
            tracing::info!(
                peers = self.peers.len(),
                "closing every peer: node shutting down"
            );
        }
        for (_, entry) in self.peers.drain() {
            entry.queue.close();
            if let Some(close) = entry.close {
                let _ = close.send("node shutting down".into());
            }
        }
        Ok(())
    }

    /// Handles one message; returns the frame's permit, if it carried one.
    fn on_message(&mut self, msg: HubMsg) -> Result<Option<OwnedSemaphorePermit>, HubError> {
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
                        outbound,
                    },
                );
                let event = match dialled {
                    Some(Dialled { url, named }) => Event::Dialled { peer, url, named },
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
                    let timed = match crate::metrics::command_of(&bytes) {
                        "block" => Some(&self.wiring.metrics.block_handling),
                        "tx" => Some(&self.wiring.metrics.tx_handling),
                        _ => None,
                    };
                    let started = std::time::Instant::now();
                    self.node.handle(
                        now,
                        Event::Frame {
                            peer,
                            bytes: bytes.to_vec(),
                        },
                    );
                    if let Some(histogram) = timed {
                        histogram.observe(started.elapsed());
                    }
                }
            }
            HubMsg::Disconnected {
                peer,
                reason,
                misbehaved,
                label,
            } => {
                if let Some(entry) = self.peers.remove(&peer) {
                    if misbehaved {
                        self.refuse_address(entry.ip, &reason, label);
                    }
                    self.close_reasons.insert(peer, reason);
                    self.node.handle(now, Event::PeerDisconnected { peer });
                }
            }
            HubMsg::Control { request, reply } => self.on_control(now, request, reply)?,
            HubMsg::Status { reply } => {
                let _ = reply.send(self.status());
            }
            HubMsg::Gauges { reply } => {
                let _ = reply.send(self.gauges());
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

    fn gauges(&self) -> Gauges {
        let s = self.node.status();
        let outbound = self.peers.values().filter(|e| e.outbound).count();
        Gauges {
            has_chain: s.genesis.is_some(),
            height: s.height,
            target_height: s.target_height,
            syncing: s.syncing,
            mempool: s.mempool,
            orphans: s.orphans,
            peers_inbound: self.peers.len() - outbound,
            peers_outbound: outbound,
            peers_handshaken: s.peers,
            peers_by_role: [
                node_core::protocol::Role::Wallet,
                node_core::protocol::Role::Miner,
                node_core::protocol::Role::Relay,
            ]
            .map(|r| (r.name(), self.roles.values().filter(|x| **x == r).count())),
            mining: s.mining_active && self.miner.is_active(),
        }
    }

    fn on_control(
        &mut self,
        now: u64,
        request: Request,
        reply: oneshot::Sender<Result<String, ControlError>>,
    ) -> Result<(), HubError> {
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
                if let Err(e) = self.commit(&changes) {
                    let _ = reply.send(Err(ControlError::Persist(e.clone())));
                    return Err(HubError::Persist(e));
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
                let _ = reply.send(Err(ControlError::PaymentToItself));
            }
            Err(e) => {
                let _ = reply.send(Err(ControlError::Command(e)));
            }
        }
        Ok(())
    }

    /// Submits a `send --mine` block and answers the CLI only once the block is committed:
    /// "Success!" is an acknowledgement that a `kill -9` right after it must not undo.
    fn on_control_mined(&mut self, mined: ControlMined) -> Result<(), HubError> {
        let result = commands::finish_mined(&mut self.node, now_ms(), mined.block);
        let committed = self.carry_out();
        let answer = match (&committed, result) {
            (Err(e), _) => Err(ControlError::Persist(e.clone())),
            (Ok(()), result) => result.map_err(ControlError::Command),
        };
        let _ = mined.reply.send(answer);
        Ok(committed?)
    }

    fn on_found(&mut self, found: Found) {
        match self.node.block_mined(now_ms(), found.job_id, found.nonce) {
            Ok(hash) => debug!(%hash, "mined block accepted"),
            Err(MinedError::StaleJob(id)) => debug!(job = id, "nonce for a replaced job ignored"),
            Err(e) => warn!("mined block not used: {e}"),
        }
    }

    /// Carries out the node's actions in order (see [`shell`]).
    fn carry_out(&mut self) -> Result<(), Arc<StoreError>> {
        while let Some(action) = self.node.poll_action() {
            action.carry_out(self)?;
        }
        Ok(())
    }

    /// Commits one change set; the node must not go on if it cannot.
    fn commit(&self, changes: &ChainChanges) -> Result<(), Arc<StoreError>> {
        tokio::task::block_in_place(|| self.store.apply(std::slice::from_ref(changes))).map_err(
            |e| {
                error!("cannot persist chain changes: {e}");
                Arc::new(e)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Limits;
    use bytes::Bytes;
    use node_core::node::NodeConfig;
    use node_core::protocol::{encode_frame, Message, Role, Version, PROTOCOL_VERSION};
    use node_core::{BlockHash, ChainParams, PubKeyHash};
    use std::net::Ipv4Addr;

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    struct Fixture {
        inbox: mpsc::Sender<HubMsg>,
        budget: Arc<SendBudget>,
        bans: Arc<Bans>,
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
        let genesis = chain
            .as_ref()
            .map(|c| c.genesis_hash())
            .unwrap_or(BlockHash::ZERO);
        let node = Node::new(NodeConfig::default(), chain);
        let (stop, stop_rx) = watch::channel(false);
        let (inbox, rx) = mpsc::channel(64);
        let limits = Limits::default();
        let budget = SendBudget::new(limits.max_send_total);
        let bans = Arc::new(Bans::new(limits.ban_duration));
        let (dialer, _dials) = Dialer::new();
        let wiring = Wiring {
            send_budget: budget.clone(),
            bans: bans.clone(),
            dialer,
            metrics: Arc::new(Metrics::default()),
        };
        let hub = Hub::new(node, store, dir.path().join("wallet.dat"), wiring);
        tokio::spawn(hub.run(rx, stop_rx));
        Ok(Fixture {
            inbox,
            budget,
            bans,
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
        let frames = SendQueue::new(queue, f.budget.clone());
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
            f.bans.is_refused(remote),
            "a remote address is refused for a while"
        );
        assert!(!f.bans.is_refused(local), "loopback never is");
        Ok(())
    }
}
