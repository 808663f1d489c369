//! Attacks on the block download queue: a peer that answers `getblocks` with
//! announcements of blocks it never delivers, to keep the node's download busy so that
//! it never takes the real chain from an honest peer.
//!
//! Each test is one small network driven by hand, step by step (every message takes one
//! step of 100 simulated ms to arrive): the node under attack (a tab), an honest relay
//! (a real [`Node`] holding the chain) and an attacker whose every answer is scripted. The
//! node must end holding the honest relay's chain, whatever the attacker says, and the
//! honest relay must never drop the node.

mod support;

use std::collections::{HashMap, VecDeque};

use node_core::consensus::params::ChainParams;
use node_core::node::{Action, Event, Node};
use node_core::protocol::{self, decode_frame, InvItem, Message, Role};
use node_core::{Block, BlockHash, Hash256};
use support::net::*;
use support::*;

/// The node's handle for the honest relay.
const HONEST: u64 = 1;
/// The node's handle for the attacker.
const ATTACKER: u64 = 2;
/// The honest relay's handle for the node.
const NODE_AT_RELAY: u64 = 100;
/// Simulated ms per step.
const STEP_MS: u64 = 100;
/// Blocks of the honest chain: more than one answer to `getblocks` (500 hashes).
const BLOCKS: u64 = 1_200;
/// Steps the download may take: five simulated minutes. The honest chain alone downloads
/// in a few dozen steps; a node still short of it by then was kept from it.
const STEP_LIMIT: usize = 3_000;

/// What the attacker says: `Some(m)` is a message the node sent it, `None` a step passing
/// (for messages it sends unasked).
type Script = Box<dyn FnMut(Option<&Message>) -> Vec<Message>>;

/// The three parties and what is on the wire between them.
struct Lab {
    node: Node,
    relay: Node,
    attacker: Script,
    attacker_connected: bool,
    /// Why the node dropped the attacker, if it did.
    attacker_dropped: Option<String>,
    now: u64,
    /// Frames on their way to the node, with who sent them.
    to_node: VecDeque<(u64, Message)>,
    to_relay: Vec<Vec<u8>>,
    to_attacker: Vec<Message>,
    steps: usize,
    /// The most orphans the node held after any step.
    most_orphans: usize,
}

/// A made-up block hash: nobody holds such a block.
fn phantom(n: u64) -> BlockHash {
    let mut b = [0xA7u8; 32];
    b[..8].copy_from_slice(&n.to_be_bytes());
    BlockHash::from_hash(Hash256(b))
}

fn blocks_inv(hashes: impl IntoIterator<Item = BlockHash>) -> Message {
    Message::Inv(hashes.into_iter().map(InvItem::Block).collect())
}

impl Lab {
    /// The honest relay with a chain of [`BLOCKS`] blocks, a tab holding only genesis, and
    /// the attacker, all three connected and past the handshake. The attacker claims the
    /// relay's height and more work than it.
    fn new(attacker: Script) -> Self {
        Self::with_blocks(attacker, BLOCKS)
    }

    /// As [`Lab::new`], with an honest chain of `blocks` blocks.
    fn with_blocks(attacker: Script, blocks: u64) -> Self {
        let owner = key(1).pubkey_hash();
        let mut chain = sim_chain(owner);
        for i in 1..=blocks {
            mine_on_at(&mut chain, owner, vec![], T0 + i * 1_000);
        }
        let genesis = chain.genesis_hash();
        let now = T0 + (blocks + 1) * 1_000;
        let relay = Node::new(config("3000", Role::Relay, 1), Some(chain));
        let node = Node::new(config("4001", Role::Wallet, 7), Some(sim_chain(owner)));
        let mut lab = Lab {
            node,
            relay,
            attacker,
            attacker_connected: true,
            attacker_dropped: None,
            now,
            to_node: VecDeque::new(),
            to_relay: Vec::new(),
            to_attacker: Vec::new(),
            steps: 0,
            most_orphans: 0,
        };
        lab.relay.handle(
            now,
            Event::PeerConnected {
                peer: NODE_AT_RELAY,
                outbound: false,
            },
        );
        for peer in [HONEST, ATTACKER] {
            lab.node.handle(
                now,
                Event::PeerConnected {
                    peer,
                    outbound: true,
                },
            );
        }
        let claim = protocol::Version {
            protocol: protocol::PROTOCOL_VERSION,
            genesis,
            best_height: blocks,
            tip: phantom(u64::MAX),
            chain_work: u128::MAX / 2,
            node_id: "6666".into(),
            role: Role::Relay,
            listen_url: None,
            nonce: 666,
            user_agent: "attacker".into(),
        };
        lab.to_node.push_back((ATTACKER, Message::Version(claim)));
        lab.to_node.push_back((ATTACKER, Message::Verack));
        lab.collect();
        lab
    }

    /// The honest relay's active chain, genesis first.
    fn honest_chain(&self) -> Vec<BlockHash> {
        let c = self.relay.chain().expect("the relay has a chain");
        (0..=c.height()).filter_map(|h| c.hash_at(h)).collect()
    }

    /// Routes what the node and the relay want sent; they arrive next step.
    fn collect(&mut self) {
        for action in self.node.drain_actions() {
            let (peers, frame) = match action {
                Action::Send { peer, frame } => (vec![peer], frame),
                Action::Broadcast { peers, frame } => (peers, frame),
                Action::Disconnect { peer, reason, .. } => {
                    assert_ne!(peer, HONEST, "the node dropped the honest relay: {reason}");
                    if peer == ATTACKER {
                        self.attacker_connected = false;
                        self.attacker_dropped = Some(reason);
                    }
                    continue;
                }
                _ => continue,
            };
            for peer in peers {
                if peer == HONEST {
                    self.to_relay.push(frame.clone());
                } else if peer == ATTACKER && self.attacker_connected {
                    self.to_attacker
                        .push(decode_frame(&frame).expect("the node sends valid frames"));
                }
            }
        }
        for action in self.relay.drain_actions() {
            match action {
                Action::Send { peer, frame } if peer == NODE_AT_RELAY => {
                    let m = decode_frame(&frame).expect("the relay sends valid frames");
                    self.to_node.push_back((HONEST, m));
                }
                Action::Broadcast { peers, frame } if peers.contains(&NODE_AT_RELAY) => {
                    let m = decode_frame(&frame).expect("the relay sends valid frames");
                    self.to_node.push_back((HONEST, m));
                }
                Action::Disconnect { peer, reason, .. } => {
                    panic!("the relay dropped peer {peer}: {reason}")
                }
                _ => {}
            }
        }
    }

    /// One step: everything on the wire arrives (the attacker's frames to the node first,
    /// so it wins every race), the attacker answers, the clock moves on (a tick a second).
    fn step(&mut self) {
        self.steps += 1;
        self.now += STEP_MS;
        let now = self.now;
        let mut arriving: Vec<_> = self.to_node.drain(..).collect();
        arriving.sort_by_key(|(from, _)| *from != ATTACKER);
        for (from, m) in arriving {
            if from == ATTACKER && !self.attacker_connected {
                continue;
            }
            self.node.handle(now, frame(from, &m));
        }
        for bytes in std::mem::take(&mut self.to_relay) {
            self.relay.handle(
                now,
                Event::Frame {
                    peer: NODE_AT_RELAY,
                    bytes,
                },
            );
        }
        if self.attacker_connected {
            let mut replies = Vec::new();
            for m in std::mem::take(&mut self.to_attacker) {
                // It keeps its connection alive: every ping is answered.
                if let Message::Ping(n) = m {
                    replies.push(Message::Pong(n));
                }
                replies.extend((self.attacker)(Some(&m)));
            }
            replies.extend((self.attacker)(None));
            self.to_node
                .extend(replies.into_iter().map(|m| (ATTACKER, m)));
        }
        if self.steps % 10 == 0 {
            self.node.handle(now, Event::Tick);
            self.relay.handle(now, Event::Tick);
        }
        self.collect();
        let orphans = self.node.chain().map_or(0, |c| c.orphan_count());
        self.most_orphans = self.most_orphans.max(orphans);
    }

    /// Steps until the node holds the relay's tip, or [`STEP_LIMIT`] steps.
    fn run(&mut self) -> bool {
        let goal = self.relay.chain().expect("a chain").tip();
        while self.steps < STEP_LIMIT {
            if self.node.chain().is_some_and(|c| c.tip() == goal) {
                return true;
            }
            self.step();
        }
        false
    }

    /// Asserts the node ended on the relay's chain, block for block.
    fn assert_node_holds_the_honest_chain(&mut self) {
        let reached = self.run();
        let height = self.node.chain().map_or(0, |c| c.height());
        let goal = self.relay.chain().map_or(0, |c| c.height());
        assert!(
            reached,
            "after {} simulated seconds the node is at height {height} of {goal}",
            self.steps as u64 * STEP_MS / 1_000
        );
        let c = self.node.chain().expect("a chain");
        let ours: Vec<BlockHash> = (0..=c.height()).filter_map(|h| c.hash_at(h)).collect();
        assert_eq!(ours, self.honest_chain());
    }

    /// Asserts the node never held a full orphan pool: none of its blocks had to be let go.
    fn assert_the_orphan_pool_never_filled(&self) {
        let capacity = ChainParams::default().max_orphans;
        assert!(
            self.most_orphans < capacity,
            "the node held {} orphans, the pool's capacity",
            self.most_orphans
        );
    }
}

/// The first 128 blocks of the honest relay's chain of `blocks` blocks (above genesis):
/// the hashes an attacker that watches the network announces before the relay does.
fn first_honest_blocks(blocks: u64) -> Vec<BlockHash> {
    Lab::with_blocks(Box::new(|_| vec![]), blocks).honest_chain()[1..=128].to_vec()
}

/// The attacker answers every `getblocks` with a full batch of made-up hashes and every
/// `getdata` with silence: the node asks it for the next batch while a whole one fits, then
/// waits for blocks that never come. Those requests expire and the attacker is dropped; the
/// honest relay's chain is downloaded meanwhile.
#[test]
fn made_up_announcements_answered_with_silence_time_out_and_the_real_chain_downloads() {
    let mut next = 0u64;
    let mut lab = Lab::new(Box::new(move |m| match m {
        Some(Message::GetBlocks { .. }) => {
            next += 500;
            vec![blocks_inv((next - 500..next).map(phantom))]
        }
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
    // Let the stall timeout pass: the requests the attacker never answered are charged.
    for _ in 0..400 {
        lab.step();
    }
    let why = lab
        .attacker_dropped
        .clone()
        .expect("the attacker that never delivered was dropped");
    assert!(why.contains("stalled"), "{why}");
}

/// The attacker answers `getdata` for its made-up blocks with `notfound` at once (so no
/// request of it ever grows old) and each `getblocks` with 500 more: its queue stays full
/// for as long as it likes. The queue is the attacker's own; the honest relay's blocks are
/// fetched beside it.
#[test]
fn made_up_announcements_answered_with_notfound_do_not_hold_up_the_real_chain() {
    let mut next = 0u64;
    let mut lab = Lab::new(Box::new(move |m| match m {
        Some(Message::GetBlocks { .. }) => {
            next += 500;
            vec![blocks_inv((next - 500..next).map(phantom))]
        }
        Some(Message::GetData(items)) => vec![Message::NotFound(items.clone())],
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
}

/// The attacker sends, every step and unasked, a full `inv` of 2,000 made-up hashes.
/// Whatever it queues is bounded by the queue's cap, and the real chain downloads.
#[test]
fn a_flood_of_unsolicited_made_up_announcements_does_not_hold_up_the_real_chain() {
    let mut next = 0u64;
    let mut lab = Lab::new(Box::new(move |m| match m {
        None => {
            let n = protocol::MAX_INV_ITEMS as u64;
            next += n;
            vec![blocks_inv((next - n..next).map(phantom))]
        }
        Some(Message::GetData(items)) => vec![Message::NotFound(items.clone())],
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
}

/// The attacker has learned the real chain's hashes (any peer of the network has) and
/// announces its first blocks before the honest relay does, so that the node asks it, not
/// the relay, for them. It never delivers them: it answers silence. The requests expire,
/// the attacker is dropped, and the node takes those blocks from the relay.
///
/// Meanwhile the relay's later blocks arrive as orphans and the oldest leave the bounded
/// orphan pool. Each orphan whose gap was not awaited used to send a `getblocks`, whose
/// answer had the node fetch again blocks the relay had already sent it, and the relay
/// charges that: within two simulated seconds the honest relay dropped the node as
/// misbehaving (the lab fails when the relay drops anyone).
#[test]
fn real_hashes_announced_first_and_never_delivered_are_taken_from_the_relay_after_the_timeout() {
    let first = first_honest_blocks(BLOCKS);
    let mut lab = Lab::new(Box::new(move |m| match m {
        Some(Message::GetBlocks { .. }) => vec![blocks_inv(first.iter().copied())],
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
    let why = lab
        .attacker_dropped
        .clone()
        .expect("the attacker was dropped");
    assert!(why.contains("stalled"), "{why}");
}

/// As above, but the attacker answers each `getdata` at once with `notfound` and announces
/// the same blocks again in the same breath, so the node asks it again: its requests never
/// grow old enough to expire, and each block it holds is always awaited from it, never
/// queued for the honest relay. The node must stop asking it for blocks it said it does not
/// have and take them from the relay that announced them.
#[test]
fn real_hashes_announced_first_and_answered_notfound_over_and_over_are_taken_from_the_relay() {
    let first = first_honest_blocks(BLOCKS);
    let mut lab = Lab::new(Box::new(move |m| match m {
        Some(Message::GetBlocks { .. }) => vec![blocks_inv(first.iter().copied())],
        Some(Message::GetData(items)) => vec![
            Message::NotFound(items.clone()),
            Message::Inv(items.clone()),
        ],
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
}

/// The attacker announces only what the honest relay announced too, and answers
/// `notfound` once: the blocks it held are asked of the relay.
#[test]
fn real_hashes_announced_first_and_answered_notfound_once_are_taken_from_the_relay() {
    let first = first_honest_blocks(BLOCKS);
    let mut lab = Lab::new(Box::new(move |m| match m {
        Some(Message::GetBlocks { .. }) => vec![blocks_inv(first.iter().copied())],
        Some(Message::GetData(items)) => vec![Message::NotFound(items.clone())],
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
}

/// The attacker announces the whole real chain, unasked, every step, and answers every
/// `getdata` with `notfound` and the same announcement again: whichever block the node
/// needs next, the attacker has claimed it. Each block is asked of the attacker once, then
/// of the relay.
#[test]
fn the_whole_real_chain_announced_every_step_and_never_delivered_is_taken_from_the_relay() {
    let lab_chain = Lab::new(Box::new(|_| vec![])).honest_chain();
    let all: Vec<BlockHash> = lab_chain[1..].to_vec();
    let mut lab = Lab::new(Box::new(move |m| match m {
        None | Some(Message::GetBlocks { .. }) => vec![blocks_inv(all.iter().copied())],
        Some(Message::GetData(items)) => vec![
            Message::NotFound(items.clone()),
            Message::Inv(items.clone()),
        ],
        _ => vec![],
    }));
    lab.assert_node_holds_the_honest_chain();
}

/// The stall above, against a longer chain. While the attacker holds the first 128 blocks
/// for the 30 s stall timeout, the node fetches the relay's later blocks as orphans. Past
/// the orphan pool (512 blocks) the oldest used to be let go, and once the attacker was
/// dropped the node fetched them again from the relay, which charges a block asked for
/// twice on one connection (5 points a `getdata`): with 2,500 blocks the honest relay
/// dropped the node at 100 points, at height 1,280. The download window keeps what is in
/// flight and held within the pool, and the blocks the attacker owed are asked of the relay
/// first, as all the rest waits on them.
#[test]
fn a_stall_that_overflows_the_orphan_pool_does_not_get_the_node_dropped_by_the_relay() {
    let first = first_honest_blocks(2_500);
    let mut lab = Lab::with_blocks(
        Box::new(move |m| match m {
            Some(Message::GetBlocks { .. }) => vec![blocks_inv(first.iter().copied())],
            _ => vec![],
        }),
        2_500,
    );
    lab.assert_node_holds_the_honest_chain();
    lab.assert_the_orphan_pool_never_filled();
}

/// The honest relay's chain of `blocks` blocks (genesis first): what an attacker that
/// watches the network has too.
fn honest_blocks(blocks: u64) -> Vec<Block> {
    let lab = Lab::with_blocks(Box::new(|_| vec![]), blocks);
    let c = lab.relay.chain().expect("the relay has a chain");
    (0..=c.height())
        .filter_map(|h| c.hash_at(h))
        .map(|h| {
            c.block(&h)
                .cloned()
                .expect("a simulated chain keeps its blocks")
        })
        .collect()
}

/// An attacker holding the real chain of `blocks`: it answers each `getblocks` with the
/// next 500 of its blocks from height `from` on, and each `getdata` with every block asked
/// but `withheld` (of which it says nothing).
fn real_chain_from(blocks: u64, from: usize, withheld: Option<BlockHash>) -> Script {
    let chain = honest_blocks(blocks);
    let by_hash: HashMap<BlockHash, Block> = chain.iter().map(|b| (b.hash(), b.clone())).collect();
    let mut next = from;
    Box::new(move |m| match m {
        Some(Message::GetBlocks { .. }) if next < chain.len() => {
            let end = (next + 500).min(chain.len());
            let inv = blocks_inv(chain[next..end].iter().map(Block::hash));
            next = end;
            vec![inv]
        }
        Some(Message::GetData(items)) => items
            .iter()
            .filter_map(|i| match i {
                InvItem::Block(h) if Some(*h) != withheld => by_hash.get(h).cloned(),
                _ => None,
            })
            .map(Message::Block)
            .collect(),
        _ => vec![],
    })
}

/// The attacker holds the real chain, announces it before the relay does and sends at once
/// every block asked of it but one: the first the node lacks, which it never sends. All it
/// delivers waits as orphans on that block, and the window fills with them. That block stays
/// asked of the attacker until the stall timeout drops it; then it is asked of the relay
/// first, ahead of everything else, and all that waited connects. The orphan pool never
/// fills, so the relay is never asked again for a block it sent.
#[test]
fn a_peer_that_withholds_only_the_next_block_holds_the_download_until_it_is_dropped() {
    let withheld = honest_blocks(2_500)[1].hash();
    let mut lab = Lab::with_blocks(real_chain_from(2_500, 1, Some(withheld)), 2_500);
    lab.assert_node_holds_the_honest_chain();
    let why = lab
        .attacker_dropped
        .clone()
        .expect("the attacker that withheld a block was dropped");
    assert!(why.contains("stalled"), "{why}");
    lab.assert_the_orphan_pool_never_filled();
}

/// The attacker holds the real chain but answers each `getblocks` with blocks far ahead of
/// the node (from height 1,001 on, 500 more each time), before the relay answers, and sends
/// every block asked of it at once: the window fills with blocks that cannot connect, and
/// nobody is asked for the thousand blocks below them. The attacker is never slow, so no
/// timeout drops it. The node must see that nothing it waits for connects what it holds,
/// stop counting those orphans, and take the blocks it lacks from the relay, in order, to
/// the honest tip, without the relay ever being asked again for a block it sent.
#[test]
fn a_peer_that_only_sends_blocks_far_ahead_does_not_keep_the_node_from_the_next_block() {
    let mut lab = Lab::with_blocks(real_chain_from(2_500, 1_001, None), 2_500);
    lab.assert_node_holds_the_honest_chain();
    lab.assert_the_orphan_pool_never_filled();
}
