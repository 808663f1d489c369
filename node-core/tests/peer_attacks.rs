//! Attacks by peers on what a node spends and on what it believes, each told as a story: a
//! `getdata` that asks for the same block thousands of times, a drive-by peer choosing the
//! genesis of a node without a chain, an `addr` flood, a peer's `version` claiming another
//! node's name, floods of orphans and made-up signatures, and a height nobody backs.
//!
//! The node is driven directly (events in, actions out) or in the simulator. Work is
//! asserted by counting (frames, templates, transactions checked, signatures verified),
//! never by timing.

mod support;

use node_core::consensus::pow;
use node_core::node::addr_book::PER_SOURCE_CAP;
use node_core::node::{
    Action, Event, Node, NodeConfig, Notification, BEFORE_GENESIS_MAX_BYTES, GETADDR_ANSWER_MAX,
};
use node_core::protocol::{
    InvItem, Message, PeerAddr, Role, Version, MAX_INV_ITEMS, PROTOCOL_VERSION,
};
use node_core::sim::{LinkConfig, Sim};
use node_core::{Block, BlockHash, Chain, KeyPair, OutPoint, Transaction, TxOut, Txid};
use support::net::{
    config, dropped_for_misbehaving, frame, mine_on_at, sent_to, sim_chain, SIM_BITS,
};
use support::{key, T0};

// ----- a node driven by hand ---------------------------------------------------------------

fn version(node_id: &str, genesis: BlockHash, best_height: u64, chain_work: u128) -> Version {
    Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height,
        tip: genesis,
        chain_work,
        node_id: node_id.into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 7_000 + node_id.len() as u64 + best_height,
        user_agent: "attacker".into(),
    }
}

fn relay_version(node_id: &str, genesis: BlockHash, url: &str) -> Version {
    Version {
        role: Role::Relay,
        listen_url: Some(url.into()),
        nonce: node_id.bytes().map(u64::from).sum::<u64>() + 50_000,
        ..version(node_id, genesis, 0, 0)
    }
}

/// `peer` connects to `node` (inbound) and shakes hands with `v`.
fn shake_inbound(node: &mut Node, now: u64, peer: u64, v: Version) -> Vec<Action> {
    node.handle(
        now,
        Event::PeerConnected {
            peer,
            outbound: false,
        },
    );
    node.handle(now, frame(peer, &Message::Version(v)));
    node.handle(now, frame(peer, &Message::Verack));
    node.drain_actions()
}

/// `node` dials `url` as `peer`, and the node there shakes hands with `v`.
fn shake_dialled(node: &mut Node, now: u64, peer: u64, url: &str, named: bool, v: Version) {
    node.handle(
        now,
        Event::Dialled {
            peer,
            url: url.into(),
            named,
        },
    );
    node.handle(now, frame(peer, &Message::Version(v)));
    node.handle(now, frame(peer, &Message::Verack));
    node.drain_actions();
}

fn penalised(actions: &[Action], peer: u64) -> bool {
    actions.iter().any(
        |a| matches!(a, Action::Notify(Notification::PeerPenalised { peer: p, .. }) if *p == peer),
    )
}

/// A relay with `chain`, and an ordinary peer 1 past the handshake.
fn relay_with(chain: Chain, cfg: NodeConfig) -> Node {
    let genesis = chain.genesis_hash();
    let mut relay = Node::new(cfg, Some(chain));
    shake_inbound(&mut relay, T0, 1, version("4001", genesis, 0, 0));
    relay
}

fn relay_config() -> NodeConfig {
    config("3000", Role::Relay, 1)
}

// ----- 1. getdata amplification ------------------------------------------------------------

#[test]
fn one_getdata_naming_a_block_two_thousand_times_gets_the_block_once() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    let ask = Message::GetData(vec![InvItem::Block(genesis); MAX_INV_ITEMS]);
    relay.handle(T0 + 1, frame(1, &ask));
    for t in 0..10 {
        relay.handle(T0 + 2 + t * 250, Event::Tick);
    }
    let blocks = sent_to(&relay.drain_actions(), 1)
        .into_iter()
        .filter(|m| matches!(m, Message::Block(_)))
        .count();
    assert_eq!(blocks, 1, "the block is sent once, not once per mention");
}

#[test]
fn a_peer_that_asks_again_and_again_for_a_block_it_was_sent_is_dropped() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    let ask = Message::GetData(vec![InvItem::Block(genesis)]);
    let mut actions = Vec::new();
    let mut served = 0;
    for i in 0..40 {
        relay.handle(T0 + i, frame(1, &ask));
        let now = relay.drain_actions();
        served += sent_to(&now, 1)
            .iter()
            .filter(|m| matches!(m, Message::Block(_)))
            .count();
        actions.extend(now);
    }
    assert!(
        dropped_for_misbehaving(&actions, 1),
        "repeated asking is charged"
    );
    assert!(served <= 21, "served {served} copies before it was dropped");
}

#[test]
fn answers_that_do_not_fit_a_round_wait_for_later_rounds_instead_of_piling_up() {
    let owner = key(1);
    let mut chain = sim_chain(owner.pubkey_hash());
    let hashes: Vec<BlockHash> = (0..10)
        .map(|i| {
            mine_on_at(
                &mut chain,
                owner.pubkey_hash(),
                vec![],
                T0 + 1_000 * (i + 1),
            )
            .hash()
        })
        .collect();
    // A round of one byte: one answer per round, so what waits is visible.
    let cfg = NodeConfig {
        serve_round_bytes: 1,
        ..relay_config()
    };
    let mut relay = relay_with(chain, cfg);
    let ask = Message::GetData(hashes.iter().map(|h| InvItem::Block(*h)).collect());
    relay.handle(T0 + 20_000, frame(1, &ask));
    let first = sent_to(&relay.drain_actions(), 1);
    assert_eq!(first.len(), 1, "one round answers one item here: {first:?}");
    let mut got: Vec<BlockHash> = first
        .iter()
        .filter_map(|m| match m {
            Message::Block(b) => Some(b.hash()),
            _ => None,
        })
        .collect();
    for t in 1..20 {
        relay.handle(T0 + 20_000 + t * 250, Event::Tick);
        let round: Vec<BlockHash> = sent_to(&relay.drain_actions(), 1)
            .iter()
            .filter_map(|m| match m {
                Message::Block(b) => Some(b.hash()),
                _ => None,
            })
            .collect();
        assert!(round.len() <= 1, "one round, one answer: {round:?}");
        got.extend(round);
    }
    assert_eq!(got, hashes, "every block once, in the order asked");
}

// ----- 2. the genesis of a node without a chain --------------------------------------------

#[test]
fn a_drive_by_peer_cannot_choose_the_genesis_of_a_node_without_a_chain() {
    let mut sim = Sim::new(13, LinkConfig::default());
    let hub_chain = sim_chain(key(1).pubkey_hash());
    let hub_genesis = hub_chain.genesis_hash();
    let hub = sim.add_node(relay_config(), Some(hub_chain));
    // Another network's relay, which reaches the fresh relay first.
    let stranger = sim.add_node(
        config("6666", Role::Relay, 66),
        Some(sim_chain(key(66).pubkey_hash())),
    );
    let fresh = sim.add_node(
        NodeConfig {
            listen_url: Some("ws://fresh.test/ws".into()),
            ..config("3001", Role::Relay, 2)
        },
        None,
    );
    sim.connect(stranger, fresh);
    sim.run_for(3_000);
    assert!(
        sim.nodes[fresh].node.chain().is_none(),
        "nobody the operator named has spoken yet"
    );
    // The operator's `startnode --peer HUB`.
    sim.connect(fresh, hub);
    sim.run_for(30_000);
    let chain = sim.nodes[fresh]
        .node
        .chain()
        .expect("downloaded from the hub");
    assert_eq!(chain.genesis_hash(), hub_genesis);
    assert!(
        !sim.nodes[fresh]
            .disconnects
            .iter()
            .any(|r| r.contains(&format!("peer has {hub_genesis}"))),
        "the hub was never refused: {:?}",
        sim.nodes[fresh].disconnects
    );
}

/// A block with a valid proof of work for `bits` on a made-up parent, of about `size`
/// bytes (an oversized coinbase: nothing checks the body before the genesis is known).
fn big_block(seed: u8, size: usize, bits: u32) -> Block {
    let mut block = unmined_block(seed, size, bits);
    pow::mine(&mut block.header).expect("low bits");
    block
}

fn unmined_block(seed: u8, size: usize, bits: u32) -> Block {
    let to = key(9).pubkey_hash();
    let mut cb = Transaction::new_coinbase(1, to, 10, &[seed]);
    cb.outputs.extend((0..size / 22).map(|_| TxOut {
        value: 1,
        pubkey_hash: to,
    }));
    Block::new_template(
        BlockHash::from_hash(node_core::primitives::hash::sha256(&[seed])),
        T0 + 60_000,
        bits,
        vec![cb],
    )
}

fn fresh_node_with_named_hub(genesis: BlockHash) -> Node {
    let mut node = Node::new(config("3001", Role::Wallet, 2), None);
    shake_dialled(
        &mut node,
        T0,
        1,
        "ws://hub.test/ws",
        true,
        relay_version("3000", genesis, "ws://hub.test/ws"),
    );
    node
}

#[test]
fn blocks_held_before_the_genesis_are_bounded_in_bytes_even_from_the_named_peer() {
    let hub_chain = sim_chain(key(1).pubkey_hash());
    let mut node = fresh_node_with_named_hub(hub_chain.genesis_hash());
    for seed in 0..10 {
        node.handle(
            T0 + 1,
            frame(1, &Message::Block(big_block(seed, 900_000, SIM_BITS))),
        );
    }
    let held = node.held_before_genesis();
    assert!(held > 0, "the named peer's blocks wait for the genesis");
    assert!(
        held <= BEFORE_GENESIS_MAX_BYTES,
        "{held} bytes held before the genesis"
    );
}

#[test]
fn a_block_before_the_genesis_without_its_proof_of_work_is_charged_and_not_kept() {
    let hub_chain = sim_chain(key(1).pubkey_hash());
    let mut node = fresh_node_with_named_hub(hub_chain.genesis_hash());
    let mut forged = unmined_block(1, 1_000, 20);
    while pow::meets_target(&forged.hash(), forged.header.bits) {
        forged.header.nonce += 1;
    }
    node.handle(T0 + 1, frame(1, &Message::Block(forged)));
    let actions = node.drain_actions();
    assert!(penalised(&actions, 1), "{actions:?}");
    assert_eq!(node.held_before_genesis(), 0);
}

#[test]
fn a_stranger_cannot_park_blocks_in_a_node_without_a_chain() {
    let hub_chain = sim_chain(key(1).pubkey_hash());
    let genesis = hub_chain.genesis_hash();
    let mut node = fresh_node_with_named_hub(genesis);
    // An inbound peer that even claims the right genesis.
    shake_inbound(&mut node, T0, 2, version("6666", genesis, 9, 9));
    node.handle(
        T0 + 1,
        frame(2, &Message::Block(big_block(3, 900_000, SIM_BITS))),
    );
    let actions = node.drain_actions();
    assert!(penalised(&actions, 2), "{actions:?}");
    assert_eq!(node.held_before_genesis(), 0);
}

#[test]
fn blocks_held_before_the_genesis_with_other_bits_are_charged_when_it_comes() {
    let hub_chain = sim_chain(key(1).pubkey_hash());
    let genesis_block = hub_chain.block_at(0).expect("genesis").clone();
    let mut node = fresh_node_with_named_hub(hub_chain.genesis_hash());
    // Cheaper work than the network's: passes its own target, not the genesis's.
    node.handle(T0 + 1, frame(1, &Message::Block(big_block(4, 1_000, 1))));
    assert!(node.held_before_genesis() > 0);
    node.drain_actions();
    node.handle(T0 + 2, frame(1, &Message::Block(genesis_block)));
    let actions = node.drain_actions();
    assert!(node.chain().is_some());
    assert!(penalised(&actions, 1), "{actions:?}");
    assert_eq!(node.held_before_genesis(), 0);
}

// ----- 3. the address book -----------------------------------------------------------------

fn flood(tag: &str, n: usize) -> Vec<PeerAddr> {
    (0..n)
        .map(|i| PeerAddr {
            node_id: format!("{tag}{i}"),
            url: Some(format!("ws://{tag}{i}.evil.test/ws")),
            role: Role::Relay,
        })
        .collect()
}

#[test]
fn one_addr_message_fills_only_a_small_part_of_the_address_book() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    relay.handle(T0 + 1, frame(1, &Message::Addr(flood("e", 1_000))));
    let evil = relay
        .known_addrs()
        .iter()
        .filter(|a| a.node_id.starts_with('e'))
        .count();
    assert!(evil <= PER_SOURCE_CAP, "{evil} entries from one addr");
    assert!(evil * 10 < 1_000, "a tenth of the table at most");
    // An honest relay heard of from another peer still gets in.
    shake_inbound(&mut relay, T0, 2, version("4002", genesis, 0, 0));
    let honest = PeerAddr {
        node_id: "3002".into(),
        url: Some("ws://honest.test/ws".into()),
        role: Role::Relay,
    };
    relay.handle(T0 + 2, frame(2, &Message::Addr(vec![honest.clone()])));
    assert!(relay.known_addrs().contains(&honest));
}

#[test]
fn a_relay_this_node_dialled_outlives_any_addr_flood_and_leads_every_getaddr_answer() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    let hub = "ws://hub.test/ws";
    shake_dialled(
        &mut relay,
        T0,
        2,
        hub,
        false,
        relay_version("3005", genesis, hub),
    );
    // Thirty attackers, each with a full addr message.
    for a in 0..30u64 {
        let peer = 100 + a;
        shake_inbound(
            &mut relay,
            T0,
            peer,
            version(&format!("x{a}"), genesis, 0, 0),
        );
        relay.handle(
            T0 + 1,
            frame(peer, &Message::Addr(flood(&format!("a{a}x"), 1_000))),
        );
        relay.handle(T0 + 1, Event::PeerDisconnected { peer });
    }
    relay.drain_actions();
    assert_eq!(relay.known_addrs()[0].url.as_deref(), Some(hub));
    // A tab asks for addresses: a bounded sample, the relay met first-hand first.
    shake_inbound(&mut relay, T0 + 2, 500, version("tab", genesis, 0, 0));
    relay.handle(T0 + 3, frame(500, &Message::GetAddr));
    let answers: Vec<Vec<PeerAddr>> = sent_to(&relay.drain_actions(), 500)
        .into_iter()
        .filter_map(|m| match m {
            Message::Addr(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0].len() <= GETADDR_ANSWER_MAX,
        "{}",
        answers[0].len()
    );
    assert_eq!(answers[0][0].url.as_deref(), Some(hub));
    // Asking again on the same connection gets nothing more.
    relay.handle(T0 + 4, frame(500, &Message::GetAddr));
    assert!(!sent_to(&relay.drain_actions(), 500)
        .iter()
        .any(|m| matches!(m, Message::Addr(_))));
}

#[test]
fn a_peer_claiming_another_nodes_id_in_its_version_does_not_replace_that_nodes_url() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    let good = "ws://good.test/ws";
    shake_dialled(
        &mut relay,
        T0,
        2,
        good,
        false,
        relay_version("3001", genesis, good),
    );
    // And one heard of from a peer.
    let heard = PeerAddr {
        node_id: "3002".into(),
        url: Some("ws://heard.test/ws".into()),
        role: Role::Relay,
    };
    relay.handle(T0, frame(1, &Message::Addr(vec![heard.clone()])));
    for (peer, victim) in [(7u64, "3001"), (8, "3002")] {
        let mut v = relay_version(victim, genesis, "ws://evil.test/ws");
        v.nonce = 900 + peer;
        shake_inbound(&mut relay, T0 + 1, peer, v);
    }
    let known = relay.known_addrs();
    let url_of = |id: &str| -> Vec<Option<String>> {
        known
            .iter()
            .filter(|a| a.node_id == id)
            .map(|a| a.url.clone())
            .collect()
    };
    assert_eq!(url_of("3001")[0].as_deref(), Some(good), "{known:?}");
    assert!(url_of("3002").contains(&heard.url), "{known:?}");
}

#[test]
fn a_peer_copying_a_relays_id_and_nonce_cannot_cut_this_nodes_link_to_it() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    // This relay's id is the higher of the two, the side that used to close its own dial.
    let mut relay = relay_with(chain, config("3005", Role::Relay, 1));
    let real = relay_version("3001", genesis, "ws://real.test/ws");
    shake_dialled(&mut relay, T0, 2, "ws://real.test/ws", false, real.clone());
    // Both are in every `version` the real relay sends.
    let copy = Version {
        listen_url: Some("ws://evil.test/ws".into()),
        ..real
    };
    let actions = shake_inbound(&mut relay, T0 + 1, 9, copy);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Disconnect { peer: 2, .. })),
        "the link this node dialled stays: {actions:?}"
    );
}

// ----- 4. work that grows faster than what a peer sends ------------------------------------

/// `n` payments, each spending the one before (the first spends `coin`), all valid in one
/// mempool.
fn payment_chain(owner: &KeyPair, coin: OutPoint, value: u64, n: usize) -> Vec<Transaction> {
    let mut prev = coin;
    (0..n)
        .map(|_| {
            let tx = Transaction::new_signed(
                owner,
                &[prev],
                vec![TxOut {
                    value,
                    pubkey_hash: owner.pubkey_hash(),
                }],
            );
            prev = OutPoint {
                txid: tx.txid(),
                vout: 0,
            };
            tx
        })
        .collect()
}

/// A relay whose chain has a block paying `owner`, and that block's coinbase.
fn funded_relay(owner: &KeyPair, cfg: NodeConfig) -> (Node, OutPoint) {
    let mut chain = sim_chain(owner.pubkey_hash());
    let block = mine_on_at(&mut chain, owner.pubkey_hash(), vec![], T0 + 1_000);
    let coin = OutPoint {
        txid: block.transactions[0].txid(),
        vout: 0,
    };
    (relay_with(chain, cfg), coin)
}

/// An orphan: it spends an output nobody has seen.
fn orphan(owner: &KeyPair, i: u32) -> Transaction {
    let unknown = OutPoint {
        txid: Txid::from_hash(node_core::primitives::hash::sha256(&i.to_le_bytes())),
        vout: 0,
    };
    Transaction::new_signed(
        owner,
        &[unknown],
        vec![TxOut {
            value: 1,
            pubkey_hash: owner.pubkey_hash(),
        }],
    )
}

#[test]
fn each_accepted_transaction_retries_only_the_orphans_waiting_for_it() {
    let owner = key(1);
    let (mut relay, coin) = funded_relay(&owner, relay_config());
    let genesis = relay.chain().expect("chain").genesis_hash();
    // Four peers park 100 orphans each.
    for p in 0..4u64 {
        let peer = 20 + p;
        shake_inbound(
            &mut relay,
            T0,
            peer,
            version(&format!("o{p}"), genesis, 0, 0),
        );
        for i in 0..100 {
            let tx = orphan(&owner, (p * 100 + i) as u32);
            relay.handle(T0 + 1, frame(peer, &Message::Tx(tx)));
        }
    }
    relay.drain_actions();
    let before = relay.mempool().transactions_checked();
    let payments = payment_chain(&owner, coin, 10, 200);
    for tx in &payments {
        relay.handle(T0 + 2, frame(1, &Message::Tx(tx.clone())));
    }
    assert_eq!(relay.mempool().len(), 200);
    let checked = relay.mempool().transactions_checked() - before;
    // The old node re-checked all 400 orphans after each of the 200: 80,000 checks.
    assert!(checked <= 200 + 10, "{checked} transactions checked");
}

#[test]
fn a_flood_of_transactions_rebuilds_the_mining_template_a_bounded_number_of_times() {
    let owner = key(1);
    let cfg = NodeConfig {
        mining_threshold: 1,
        ..relay_config()
    };
    let (mut relay, coin) = funded_relay(&owner, cfg);
    relay.start_mining(T0 + 2, key(2).pubkey_hash());
    relay.drain_actions();
    let mut templates = 0;
    for tx in payment_chain(&owner, coin, 10, 300) {
        relay.handle(T0 + 2, frame(1, &Message::Tx(tx)));
        templates += relay
            .drain_actions()
            .iter()
            .filter(|a| matches!(a, Action::Mine(_)))
            .count();
    }
    // The old node built a template (every transaction, a Merkle tree) after each one.
    assert!(templates <= 2, "{templates} templates for one flood");
    // The flood is mined once the refresh period has passed.
    relay.handle(T0 + 10_000, Event::Tick);
    let job = relay.drain_actions().into_iter().find_map(|a| match a {
        Action::Mine(job) => Some(job),
        _ => None,
    });
    assert_eq!(
        job.expect("a fresh template").template.transactions.len(),
        301
    );
}

#[test]
fn a_block_that_extends_the_tip_costs_work_in_its_size_not_in_the_mempools() {
    let owner = key(1);
    let (mut relay, coin) = funded_relay(&owner, relay_config());
    for tx in payment_chain(&owner, coin, 10, 300) {
        relay.handle(T0 + 2, frame(1, &Message::Tx(tx)));
    }
    assert_eq!(relay.mempool().len(), 300);
    let before = relay.mempool().transactions_checked();
    let mut block = relay
        .block_template(T0 + 3_000, key(3).pubkey_hash(), vec![])
        .expect("chain");
    pow::mine(&mut block.header).expect("low bits");
    relay.submit_block(T0 + 3_000, block).expect("valid block");
    assert_eq!(relay.chain().expect("chain").height(), 2);
    assert_eq!(relay.mempool().len(), 300);
    // The old node re-checked all 300 held transactions for an empty block.
    assert_eq!(relay.mempool().transactions_checked(), before);
}

#[test]
fn a_peer_announcing_transactions_it_never_sends_cannot_stop_others_being_fetched() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    shake_inbound(&mut relay, T0, 2, version("liar", genesis, 0, 0));
    for batch in 0..30u32 {
        let items: Vec<InvItem> = (0..MAX_INV_ITEMS as u32)
            .map(|i| {
                InvItem::Tx(Txid::from_hash(node_core::primitives::hash::sha256(
                    &(batch * 10_000 + i).to_le_bytes(),
                )))
            })
            .collect();
        relay.handle(T0 + 1, frame(2, &Message::Inv(items)));
    }
    relay.drain_actions();
    let real = InvItem::Tx(Txid::from_hash(node_core::primitives::hash::sha256(
        b"a real payment",
    )));
    relay.handle(T0 + 2, frame(1, &Message::Inv(vec![real])));
    let asked = sent_to(&relay.drain_actions(), 1);
    assert_eq!(asked, vec![Message::GetData(vec![real])]);
}

// ----- 5. CPU spent before any cheap check -------------------------------------------------

/// `tx` with the signature of input `i` spoiled.
fn spoiled(mut tx: Transaction, i: usize) -> Transaction {
    tx.inputs[i].signature[10] ^= 0x55;
    tx
}

#[test]
fn a_made_up_signature_spending_an_unknown_output_costs_no_signature_check() {
    let owner = key(1);
    let (mut relay, coin) = funded_relay(&owner, relay_config());
    let unknown = OutPoint {
        txid: Txid::from_hash(node_core::primitives::hash::sha256(b"nowhere")),
        vout: 0,
    };
    // Input 0 is a real coin with its owner's key; input 1 does not exist.
    let tx = Transaction::new_signed(
        &owner,
        &[coin, unknown],
        vec![TxOut {
            value: 1,
            pubkey_hash: owner.pubkey_hash(),
        }],
    );
    relay.handle(T0 + 2, frame(1, &Message::Tx(spoiled(tx, 0))));
    assert_eq!(relay.mempool().signature_checks(), 0);
}

#[test]
fn a_made_up_signature_arriving_at_a_full_mempool_costs_no_signature_check() {
    let owner = key(1);
    let mut cfg = relay_config();
    cfg.params.max_mempool_txs = 5;
    let (mut relay, coin) = funded_relay(&owner, cfg);
    let payments = payment_chain(&owner, coin, 10, 5);
    for tx in &payments[..5] {
        relay.handle(T0 + 2, frame(1, &Message::Tx(tx.clone())));
    }
    assert_eq!(relay.mempool().len(), 5);
    let checks = relay.mempool().signature_checks();
    // Each spends a real output (of the last one held) with its owner's key, and a forged
    // signature; the mempool has no room for any of them.
    let last = OutPoint {
        txid: payments[4].txid(),
        vout: 0,
    };
    for value in 1..=10 {
        let tx = Transaction::new_signed(
            &owner,
            &[last],
            vec![TxOut {
                value,
                pubkey_hash: owner.pubkey_hash(),
            }],
        );
        relay.handle(T0 + 3, frame(1, &Message::Tx(spoiled(tx, 0))));
    }
    assert_eq!(relay.mempool().signature_checks(), checks);
}

#[test]
fn a_transaction_refused_for_its_signature_costs_nothing_when_sent_again() {
    let owner = key(1);
    let (mut relay, coin) = funded_relay(&owner, relay_config());
    let genesis = relay.chain().expect("chain").genesis_hash();
    let bad = spoiled(
        Transaction::new_signed(
            &owner,
            &[coin],
            vec![TxOut {
                value: 10,
                pubkey_hash: owner.pubkey_hash(),
            }],
        ),
        0,
    );
    relay.handle(T0 + 2, frame(1, &Message::Tx(bad.clone())));
    let actions = relay.drain_actions();
    assert!(
        dropped_for_misbehaving(&actions, 1),
        "a bad signature is not an honest mistake"
    );
    let checks = relay.mempool().signature_checks();
    assert_eq!(checks, 1);
    for p in 0..20u64 {
        let peer = 40 + p;
        shake_inbound(
            &mut relay,
            T0 + 3,
            peer,
            version(&format!("r{p}"), genesis, 0, 0),
        );
        relay.handle(T0 + 3, frame(peer, &Message::Tx(bad.clone())));
    }
    assert_eq!(relay.mempool().signature_checks(), checks);
}

// ----- 6. heights peers only claim ---------------------------------------------------------

#[test]
fn a_peer_claiming_a_huge_height_does_not_make_the_node_sync() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    shake_inbound(
        &mut relay,
        T0,
        2,
        version("liar", genesis, 1_000_000_000, u128::MAX / 2),
    );
    assert!(!relay.is_syncing(), "a claim is not a download");
    assert_eq!(relay.status().target_height, 0);
    // Asked for its blocks, it names none: its claim stops counting at all.
    for t in 1..200 {
        relay.handle(T0 + t * 250, Event::Tick);
    }
    assert!(!relay.is_syncing());
    let status = relay.status();
    assert_eq!((status.height, status.target_height), (0, 0));
}

#[test]
fn a_claimed_height_counts_only_as_far_as_the_blocks_announced_back_it() {
    let owner = key(1);
    let chain = sim_chain(owner.pubkey_hash());
    let genesis = chain.genesis_hash();
    let mut relay = relay_with(chain, relay_config());
    shake_inbound(
        &mut relay,
        T0,
        2,
        version("liar", genesis, 1_000_000_000, u128::MAX / 2),
    );
    let made_up: Vec<InvItem> = (0..3u8)
        .map(|i| {
            InvItem::Block(BlockHash::from_hash(node_core::primitives::hash::sha256(
                &[i],
            )))
        })
        .collect();
    relay.handle(T0 + 1, frame(2, &Message::Inv(made_up)));
    assert!(
        relay.is_syncing(),
        "three announced blocks are being fetched"
    );
    // The blocks never come: the peer is dropped for stalling, and the sync is over.
    for t in 1..200 {
        relay.handle(T0 + t * 250, Event::Tick);
    }
    assert!(!relay.is_syncing());
    assert_eq!(relay.status().target_height, 0);
}
