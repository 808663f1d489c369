//! A deterministic network of real [`Node`]s over simulated links, with a fake clock.
//!
//! Used by the network tests and the `simulate` example, as quinn-proto's tests drive two
//! endpoints over simulated links. Every node is the real state machine; the simulator plays
//! the shells: it delivers frames after a per-link latency, persists changes into an
//! in-memory store, mines templates for real (at low difficulty) and delivers the nonce after
//! the time a given hash rate would need, and reconnects dropped clients with a backoff.
//!
//! Links carry WebSockets over TCP, which never lose a frame inside a live connection: a
//! lost packet is sent again, so it arrives late and holds back the frames behind it (head of
//! line blocking). So a "drop" here delays the frame by a retransmission timeout, and a
//! "reset" breaks the connection (both sides see it close; frames sent before the break
//! still arrive; the dialler reconnects). A partition makes frames and reconnections across
//! it fail until it heals.
//!
//! Built only with the `sim` feature (tests, the `simulate` example): no node runs it.
//!
//! May depend on: everything else in the crate (it plays every shell); nothing depends on it.

use alloc::collections::{BTreeMap, BTreeSet, BinaryHeap};
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Reverse;

use crate::chain::Chain;
use crate::chain::ChainChanges;
use crate::consensus::pow;
use crate::node::peers::PeerId;
use crate::node::shell::Shell;
use crate::node::{Event, MiningJob, Node, NodeConfig, Notification};
use crate::primitives::hash::{BlockHash, Hash256, PubKeyHash};
use crate::primitives::keys::KeyPair;
use crate::primitives::tx::{OutPoint, Transaction, TxOut};
use crate::protocol::Role;
use crate::store::StoredChain;
use crate::utxo::UtxoSet;

mod funded;
pub mod replay;
pub use funded::{FundedNetwork, NetworkPlan};

/// A small deterministic random source (SplitMix64): the simulator must not depend on
/// anything but its seed.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// True with probability `per_million / 1e6`.
    pub fn chance(&mut self, per_million: u32) -> bool {
        (self.next_u64() % 1_000_000) < per_million as u64
    }
}

/// How long a network must carry nothing but pings to count as quiet: past the node's
/// stall and getblocks timeouts (30 s), so recovery that waits for them has happened.
pub const QUIET_MS: u64 = 35_000;

/// Link behaviour.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Smallest one-way latency in ms.
    pub latency_min_ms: u64,
    /// Largest one-way latency in ms.
    pub latency_max_ms: u64,
    /// Chance per frame, in millionths, that a packet of it is lost and must be sent again.
    pub drop_per_million: u32,
    /// Chance per frame, in millionths, that the connection breaks at that frame.
    pub reset_per_million: u32,
    /// Retransmission timeout: the delay a lost packet adds.
    pub retransmit_ms: u64,
    /// Delay before a client redials a lost connection.
    pub reconnect_ms: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency_min_ms: 5,
            latency_max_ms: 20,
            drop_per_million: 0,
            reset_per_million: 0,
            retransmit_ms: 200,
            reconnect_ms: 1_000,
        }
    }
}

/// One simulated node with its shell state.
pub struct SimNode {
    /// The real state machine.
    pub node: Node,
    /// What it persisted.
    pub store: StoredChain,
    /// Hashes per millisecond its miner does.
    pub hash_rate_per_ms: u64,
    /// Why its connections closed, most recent last.
    pub disconnects: Vec<String>,
    /// Blocks it mined.
    pub mined: u64,
    /// Whether it is running (a crashed node is not).
    pub up: bool,
    /// Where it listens (its config's `listen_url`), so others can dial it by URL.
    pub listen_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Delivery {
    Frame {
        to: usize,
        conn: u64,
        bytes: Vec<u8>,
    },
    Closed {
        to: usize,
        conn: u64,
    },
    Dial {
        from: usize,
        to: usize,
        /// Redialled whenever it breaks (`connect`, like a relay's `--peer`), or dialled
        /// once (a node's own [`Action::Dial`]).
        persistent: bool,
    },
    Mined {
        node: usize,
        job: u64,
        nonce: u64,
    },
    Tick {
        node: usize,
    },
}

#[derive(Debug, Clone, Copy)]
struct Conn {
    persistent: bool,
    dialer: usize,
    listener: usize,
    open: bool,
}

/// The simulated network.
pub struct Sim {
    /// Simulated time in ms.
    pub now: u64,
    /// The nodes, by index.
    pub nodes: Vec<SimNode>,
    /// Frames delivered so far.
    pub frames_delivered: u64,
    /// Bytes delivered so far.
    pub bytes_delivered: u64,
    /// Node whose every delivered frame and notification is logged into `log`.
    pub trace: Option<usize>,
    /// Notifications of any node whose debug text contains this are logged into `log`.
    pub watch: Option<String>,
    /// What `trace` recorded.
    pub log: Vec<String>,
    /// Frames delivered so far, by command.
    pub frames_by_command: BTreeMap<String, u64>,
    /// The run in the network lab's format, when asked for ([`replay`]).
    pub replay: Option<replay::Recording>,
    /// Whether each node's store keeps what it persisted (to restart it, or compare it): on
    /// unless [`Sim::discard_stores`] turned it off.
    keep_stores: bool,
    links: LinkConfig,
    rng: SimRng,
    queue: BinaryHeap<Reverse<(u64, u64, Delivery)>>,
    seq: u64,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    partitioned: BTreeSet<(usize, usize)>,
    last_arrival: BTreeMap<(u64, usize), u64>,
    closed_seen: BTreeSet<(u64, usize)>,
    last_activity: u64,
    tick_ms: u64,
}

impl Sim {
    /// An empty network.
    pub fn new(seed: u64, links: LinkConfig) -> Self {
        // Every node checks the same signatures: compute each once (signature_memo).
        #[cfg(feature = "std")]
        crate::primitives::signature_memo::share_on_this_thread();
        Sim {
            now: 1_700_000_000_000,
            nodes: Vec::new(),
            frames_delivered: 0,
            bytes_delivered: 0,
            frames_by_command: BTreeMap::new(),
            replay: None,
            keep_stores: true,
            trace: None,
            watch: None,
            log: Vec::new(),
            links,
            rng: SimRng::new(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            conns: BTreeMap::new(),
            next_conn: 1,
            partitioned: BTreeSet::new(),
            last_arrival: BTreeMap::new(),
            closed_seen: BTreeSet::new(),
            last_activity: 0,
            tick_ms: 250,
        }
    }

    /// The random source, for tests that need more randomness from the same seed.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// Adds a node; returns its index.
    pub fn add_node(&mut self, config: NodeConfig, chain: Option<Chain>) -> usize {
        let mut store = StoredChain::default();
        let mut chain = chain;
        if let Some(c) = chain.as_mut() {
            // A chain handed in counts as already persisted.
            let changes = c.take_changes();
            if self.keep_stores {
                store.apply(&changes);
            }
        }
        let i = self.nodes.len();
        let listen_url = config.listen_url.clone();
        self.nodes.push(SimNode {
            listen_url,
            node: Node::new(config, chain),
            store,
            hash_rate_per_ms: 1_000,
            disconnects: Vec::new(),
            mined: 0,
            up: true,
        });
        let first = self.now + self.rng.range(0, self.tick_ms);
        self.schedule(first, Delivery::Tick { node: i });
        i
    }

    fn schedule(&mut self, at: u64, d: Delivery) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, d)));
    }

    /// `from` dials `to` (a relay) now.
    pub fn connect(&mut self, from: usize, to: usize) {
        let now = self.now;
        self.schedule(
            now,
            Delivery::Dial {
                from,
                to,
                persistent: true,
            },
        );
    }

    /// Cuts (or heals) the link between two nodes.
    pub fn set_partition(&mut self, a: usize, b: usize, cut: bool) {
        let key = (a.min(b), a.max(b));
        if cut {
            self.partitioned.insert(key);
        } else {
            self.partitioned.remove(&key);
        }
    }

    fn cut(&self, a: usize, b: usize) -> bool {
        self.partitioned.contains(&(a.min(b), a.max(b)))
    }

    /// Runs one node's state machine on an event and carries out its actions.
    pub fn with_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, u64) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[i].node, now);
        self.run_actions(i);
        if let Some(rec) = self.replay.as_mut() {
            let s = self.nodes[i].node.status();
            rec.state(now, i, s.height, s.mining_to.is_some());
        }
        r
    }

    fn peer_side(&self, conn: u64, node: usize) -> Option<usize> {
        let c = self.conns.get(&conn)?;
        if c.dialer == node {
            Some(c.listener)
        } else if c.listener == node {
            Some(c.dialer)
        } else {
            None
        }
    }

    fn latency(&mut self) -> u64 {
        let (lo, hi) = (self.links.latency_min_ms, self.links.latency_max_ms);
        self.rng.range(lo, hi)
    }

    fn transmit(&mut self, from: usize, conn: PeerId, bytes: Vec<u8>) {
        if !self.conns.get(&conn).is_some_and(|c| c.open) {
            return;
        }
        let Some(to) = self.peer_side(conn, from) else {
            return;
        };
        if self.cut(from, to) || self.rng.chance(self.links.reset_per_million) {
            self.reset(conn);
            return;
        }
        // One connection is ordered: a frame never overtakes an earlier one.
        let mut lat = self.latency();
        if self.rng.chance(self.links.drop_per_million) {
            lat += self.links.retransmit_ms;
        }
        let last = self.last_arrival.entry((conn, to)).or_insert(0);
        let at = (self.now + lat).max(*last);
        *last = at;
        self.schedule(at, Delivery::Frame { to, conn, bytes });
    }

    /// Breaks a connection, as a network failure would: frames already on their way still
    /// arrive (they were sent before the break), nothing sent later does, and each end
    /// then sees the connection close.
    fn reset(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.open {
            return;
        }
        c.open = false;
        let (a, b, persistent) = (c.dialer, c.listener, c.persistent);
        for side in [a, b] {
            let last = self.last_arrival.get(&(conn, side)).copied().unwrap_or(0);
            let at = (self.now + self.links.latency_max_ms).max(last + 1);
            self.schedule(at, Delivery::Closed { to: side, conn });
        }
        if persistent {
            let redial = self.now + self.links.reconnect_ms;
            self.schedule(
                redial,
                Delivery::Dial {
                    from: a,
                    to: b,
                    persistent: true,
                },
            );
        }
    }

    fn run_actions(&mut self, i: usize) {
        while let Some(action) = self.nodes[i].node.poll_action() {
            let Ok(()) = action.carry_out(&mut NodeShell { sim: self, node: i });
        }
    }

    /// Processes events until `deadline` (simulated ms).
    pub fn run_until(&mut self, deadline: u64) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > deadline {
                break;
            }
            let Some(Reverse((at, _, d))) = self.queue.pop() else {
                break;
            };
            self.now = self.now.max(at);
            self.deliver(d);
        }
        self.now = self.now.max(deadline);
    }

    /// Runs for `ms` more milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        let deadline = self.now + ms;
        self.run_until(deadline);
    }

    /// Runs until the network is quiet — nothing but pings and ticks for [`QUIET_MS`], long
    /// enough for every timeout a node uses to recover from a loss to fire — or until
    /// `max_ms` pass; returns whether it went quiet.
    pub fn run_until_quiet(&mut self, max_ms: u64) -> bool {
        let deadline = self.now + max_ms;
        self.last_activity = self.now;
        loop {
            if self.now.saturating_sub(self.last_activity) >= QUIET_MS {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
            let step = self.now + 100;
            self.run_until(step.min(deadline));
        }
    }

    fn deliver(&mut self, d: Delivery) {
        match d {
            Delivery::Tick { node } => {
                if self.nodes[node].up {
                    self.with_node(node, |n, now| n.handle(now, Event::Tick));
                }
                let next = self.now + self.tick_ms;
                self.schedule(next, Delivery::Tick { node });
            }
            Delivery::Frame { to, conn, bytes } => {
                if self.closed_seen.contains(&(conn, to)) || !self.nodes[to].up {
                    return;
                }
                self.frames_delivered += 1;
                self.bytes_delivered += bytes.len() as u64;
                // Node-made frames always name a known command; anything else counts as "?".
                let command = crate::protocol::frame_command(&bytes).unwrap_or("?");
                if self
                    .trace
                    .is_some_and(|t| t == to || self.peer_side(conn, to) == Some(t))
                {
                    let m = crate::protocol::decode_frame(&bytes)
                        .map(|m| alloc::format!("{} {}", m.command(), m.summary()))
                        .unwrap_or_else(|e| alloc::format!("bad frame: {e}"));
                    self.log
                        .push(alloc::format!("{} conn {conn} -> node {to}: {m}", self.now));
                }
                if command != "ping" && command != "pong" {
                    self.last_activity = self.now;
                }
                let from = self.peer_side(conn, to);
                if let (Some(rec), Some(from)) = (self.replay.as_mut(), from) {
                    rec.frame(self.now, from, to, command);
                }
                // A million frames: count without making a String key for each.
                match self.frames_by_command.get_mut(command) {
                    Some(n) => *n += 1,
                    None => {
                        self.frames_by_command.insert(command.into(), 1);
                    }
                }
                self.with_node(to, |n, now| {
                    n.handle(now, Event::Frame { peer: conn, bytes })
                });
            }
            Delivery::Closed { to, conn } => {
                self.closed_seen.insert((conn, to));
                if let Some(rec) = self.replay.as_mut() {
                    rec.link(self.now, to, false);
                }
                if self.nodes[to].up {
                    self.with_node(to, |n, now| {
                        n.handle(now, Event::PeerDisconnected { peer: conn })
                    });
                }
            }
            Delivery::Dial {
                from,
                to,
                persistent,
            } => {
                let already = self
                    .conns
                    .values()
                    .any(|c| c.open && c.dialer == from && c.listener == to);
                if already || !self.nodes[from].up {
                    return;
                }
                if self.cut(from, to) || !self.nodes[to].up {
                    if persistent {
                        let redial = self.now + self.links.reconnect_ms;
                        self.schedule(
                            redial,
                            Delivery::Dial {
                                from,
                                to,
                                persistent,
                            },
                        );
                    }
                    return;
                }
                let conn = self.next_conn;
                self.next_conn += 1;
                self.conns.insert(
                    conn,
                    Conn {
                        persistent,
                        dialer: from,
                        listener: to,
                        open: true,
                    },
                );
                if let Some(rec) = self.replay.as_mut() {
                    rec.link(self.now, from, true);
                    rec.link(self.now, to, true);
                }
                self.with_node(to, |n, now| {
                    n.handle(
                        now,
                        Event::PeerConnected {
                            peer: conn,
                            outbound: false,
                        },
                    )
                });
                // `connect` is the operator naming a peer (a relay's `--peer`); a node's own
                // `Action::Dial` is not. A node without a URL gets one nobody can dial.
                let url = self.nodes[to]
                    .listen_url
                    .clone()
                    .unwrap_or_else(|| alloc::format!("sim://node/{to}"));
                self.with_node(from, |n, now| {
                    n.handle(
                        now,
                        Event::Dialled {
                            peer: conn,
                            url,
                            named: persistent,
                        },
                    )
                });
            }
            Delivery::Mined { node, job, nonce } => {
                if !self.nodes[node].up {
                    return;
                }
                let ok = self.with_node(node, |n, now| n.block_mined(now, job, nonce).is_ok());
                if ok {
                    self.nodes[node].mined += 1;
                }
            }
        }
    }

    /// Stops a node abruptly: its state is lost, only its store remains.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].up = false;
        let conns: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.open && (c.dialer == i || c.listener == i))
            .map(|(k, _)| *k)
            .collect();
        for c in conns {
            self.reset(c);
        }
    }

    /// Stops keeping what nodes persist, and forgets what they persisted so far: for runs
    /// that never restart a node. Each node's store is a second copy of its chain (every
    /// block, undo record and the UTXO set): a 1,000-node run spent about a third of its
    /// heap and a tenth of its time on them. Nodes still hand over every change to persist.
    pub fn discard_stores(&mut self) {
        self.keep_stores = false;
        for n in &mut self.nodes {
            n.store = StoredChain::default();
        }
    }

    /// Whether nodes' stores keep what they persist (see [`Sim::discard_stores`]).
    pub fn keeps_stores(&self) -> bool {
        self.keep_stores
    }

    /// Restarts a crashed node from its store with `config` (after [`Sim::discard_stores`],
    /// from an empty store: a node that lost its disk and downloads the chain again).
    pub fn restart(&mut self, i: usize, config: NodeConfig) {
        let chain = self.nodes[i].store.load(config.params.clone());
        self.nodes[i].listen_url = config.listen_url.clone();
        self.nodes[i].node = Node::new(config, chain);
        self.nodes[i].up = true;
    }

    /// Whether every running node has a chain with the same tip and the same UTXO set.
    pub fn converged(&self) -> bool {
        let mut tips = BTreeSet::new();
        let mut sets = BTreeSet::new();
        for n in self.nodes.iter().filter(|n| n.up) {
            let Some(c) = n.node.chain() else {
                return false;
            };
            tips.insert(c.tip());
            sets.insert(c.utxo().digest());
        }
        tips.len() == 1 && sets.len() == 1
    }

    /// Number of distinct tips among running nodes.
    pub fn distinct_tips(&self) -> usize {
        let tips: BTreeSet<BlockHash> = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .filter_map(|n| n.node.chain().map(Chain::tip))
            .collect();
        tips.len()
    }

    /// Balance of `owner` as node `i` sees it.
    pub fn balance(&self, i: usize, owner: &PubKeyHash) -> u64 {
        self.nodes[i].node.balance(owner)
    }
}

/// The UTXO digest of a store, to compare a restarted node with a reindex.
pub fn store_digest(store: &StoredChain) -> Hash256 {
    UtxoSet::from_entries(store.utxo.iter().map(|(k, v)| (*k, *v))).digest()
}

/// The simulator as node `node`'s shell: frames become scheduled deliveries, storage is the
/// node's in-memory store, and mining is a search whose time is charged at the node's rate.
struct NodeShell<'a> {
    sim: &'a mut Sim,
    node: usize,
}

impl Shell for NodeShell<'_> {
    type Error = core::convert::Infallible;

    fn send(&mut self, peer: PeerId, frame: Vec<u8>) {
        self.sim.transmit(self.node, peer, frame);
    }

    fn disconnect(&mut self, peer: PeerId, reason: String, _misbehaved: bool) {
        self.sim.nodes[self.node].disconnects.push(reason);
        self.sim.reset(peer);
    }

    fn persist(&mut self, changes: ChainChanges) -> Result<(), Self::Error> {
        if self.sim.keep_stores {
            self.sim.nodes[self.node].store.apply(&changes);
        }
        Ok(())
    }

    fn dial(&mut self, url: String) {
        // Dialled once, as a relay does: a URL no node listens at, a node that is down or a
        // link that is cut fails, and the node decides when to retry.
        let to = self
            .sim
            .nodes
            .iter()
            .position(|n| n.listen_url.as_deref() == Some(url.as_str()));
        if let Some(to) = to {
            let now = self.sim.now;
            self.sim.schedule(
                now,
                Delivery::Dial {
                    from: self.node,
                    to,
                    persistent: false,
                },
            );
        }
    }

    fn mine(&mut self, job: MiningJob) {
        let mid = pow::Midstate::new(&job.template.header);
        let found = pow::search(&mid, 0, u64::MAX);
        if let Some((nonce, _)) = found.found {
            let rate = self.sim.nodes[self.node].hash_rate_per_ms.max(1);
            let at = self.sim.now + found.tried / rate + 1;
            self.sim.schedule(
                at,
                Delivery::Mined {
                    node: self.node,
                    job: job.id,
                    nonce,
                },
            );
        }
    }

    // A simulated search ends by itself; a stale nonce is refused by the node.
    fn stop_mining(&mut self) {}

    fn notify(&mut self, n: Notification) {
        let i = self.node;
        // Formatting every notification of every node was a thirtieth of a large run's time,
        // for a log that keeps only the traced node's and the watched text's.
        if self.sim.trace != Some(i) && self.sim.watch.is_none() {
            return;
        }
        let line = alloc::format!("{} node {i}: {n:?}", self.sim.now);
        let watched = self
            .sim
            .watch
            .as_ref()
            .is_some_and(|w| line.contains(w.as_str()));
        if self.sim.trace == Some(i) || watched {
            self.sim.log.push(line);
        }
    }
}

/// How the submitted transactions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxReport {
    /// In a block of the chain of the first running node.
    pub confirmed: usize,
    /// Not confirmed, but in every running node's mempool.
    pub pending_everywhere: usize,
    /// Neither: lost somewhere.
    pub lost: usize,
    /// The first lost one, to investigate.
    pub first_lost: Option<crate::primitives::hash::Txid>,
}

impl Sim {
    /// Where each of `submitted` ended up.
    pub fn tx_report(&self, submitted: &[crate::primitives::hash::Txid]) -> TxReport {
        let mut confirmed_ids = BTreeSet::new();
        if let Some(c) = self
            .nodes
            .iter()
            .find(|n| n.up)
            .and_then(|n| n.node.chain())
        {
            for h in 0..=c.height() {
                if let Some(b) = c.block_at(h) {
                    confirmed_ids.extend(b.transactions.iter().map(Transaction::txid));
                }
            }
        }
        let mut report = TxReport {
            confirmed: 0,
            pending_everywhere: 0,
            lost: 0,
            first_lost: None,
        };
        for id in submitted {
            if confirmed_ids.contains(id) {
                report.confirmed += 1;
            } else if self
                .nodes
                .iter()
                .filter(|n| n.up)
                .all(|n| n.node.mempool().contains(id))
            {
                report.pending_everywhere += 1;
            } else {
                report.lost += 1;
                report.first_lost.get_or_insert(*id);
            }
        }
        report
    }

    /// Makes payments of 1 coin from random clients to random clients, `gap_ms` apart;
    /// returns the txids the senders accepted.
    pub fn pay_randomly(
        &mut self,
        clients: &[usize],
        keys: &[KeyPair],
        count: usize,
        gap_ms: u64,
    ) -> Vec<crate::primitives::hash::Txid> {
        let mut out = Vec::new();
        if clients.is_empty() || keys.is_empty() {
            return out;
        }
        for _ in 0..count {
            let i = (self.rng.next_u64() % clients.len() as u64) as usize;
            let j = (self.rng.next_u64() % keys.len() as u64) as usize;
            let to = keys[j].pubkey_hash();
            let Some(key) = keys.get(i) else { continue };
            let key = key.clone();
            if let Ok(id) = self.with_node(clients[i], |n, now| n.send_payment(now, &key, to, 1, 0))
            {
                out.push(id);
            }
            self.run_for(gap_ms);
        }
        out
    }
}
