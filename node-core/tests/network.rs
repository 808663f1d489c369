//! Whole networks of real nodes on the deterministic simulator: the seed's scenario, sync,
//! forks, many nodes with lossy links, and hostile peers.

mod support;

use node_core::node::{Action, Event, Node, NodeConfig};
use node_core::protocol::{self, encode_frame, InvItem, Message, Role};
use node_core::sim::{FundedNetwork, LinkConfig, NetworkPlan, Sim};
use node_core::{BlockHash, Txid};
use proptest::prelude::*;
use support::net::*;
use support::*;

/// DESIGN.md's acceptance scenario, all nine steps, on the simulator.
#[test]
fn the_seed_scenario_ends_with_the_seed_balances_on_every_node() {
    let central = key(1);
    let wallets: Vec<_> = (11..15).map(key).collect();
    let miner = key(20);
    let mut sim = Sim::new(7, LinkConfig::default());
    // 1. The central node creates the blockchain; genesis pays CENTRAL.
    let relay = sim.add_node(
        config("3000", Role::Relay, 1),
        Some(sim_chain(central.pubkey_hash())),
    );
    // 2. The wallet node has its four addresses (keys above).
    // 3. The central node sends 10 to WALLET_1 and WALLET_2, each mined at once.
    send_and_mine(&mut sim, relay, &central, wallets[0].pubkey_hash(), 10);
    sim.run_for(10);
    send_and_mine(&mut sim, relay, &central, wallets[1].pubkey_hash(), 10);
    assert_eq!(sim.nodes[relay].node.chain().unwrap().height(), 2);
    // 4. The wallet node connects and downloads the chain.
    let wallet = sim.add_node(config("3001", Role::Wallet, 2), None);
    sim.connect(wallet, relay);
    assert!(sim.run_until_quiet(120_000));
    assert_eq!(sim.balance(wallet, &wallets[0].pubkey_hash()), 10);
    assert_eq!(sim.balance(wallet, &wallets[1].pubkey_hash()), 10);
    assert_eq!(sim.balance(wallet, &central.pubkey_hash()), 10);
    // 5. The miner node connects, downloads the chain and mines to MINER_WALLET.
    let miner_node = sim.add_node(config("3002", Role::Miner, 3), None);
    sim.connect(miner_node, relay);
    assert!(sim.run_until_quiet(120_000));
    sim.with_node(miner_node, |n, now| {
        n.start_mining(now, miner.pubkey_hash())
    });
    // 6. The wallet sends 1 from WALLET_1 to WALLET_3 and 1 from WALLET_2 to WALLET_4.
    for (from, to) in [(0, 2), (1, 3)] {
        let to = wallets[to].pubkey_hash();
        sim.with_node(wallet, |n, now| {
            n.send_payment(now, &wallets[from], to, 1, 0)
        })
        .expect("wallet has the funds");
    }
    // 7-8. The relay forwards both; the miner mines; everyone receives the block.
    assert!(sim.run_until_quiet(120_000));
    assert!(sim.converged(), "all nodes on one tip with one UTXO set");
    assert_eq!(sim.nodes[miner_node].mined, 1);
    // 9. Balances, in every node.
    let expected = [
        (wallets[0].pubkey_hash(), 9),
        (wallets[1].pubkey_hash(), 9),
        (wallets[2].pubkey_hash(), 1),
        (wallets[3].pubkey_hash(), 1),
        (miner.pubkey_hash(), 10),
        (central.pubkey_hash(), 10),
    ];
    for node in [relay, wallet, miner_node] {
        for (who, amount) in &expected {
            assert_eq!(sim.balance(node, who), *amount, "node {node}");
        }
        assert!(sim.nodes[node].node.mempool().is_empty());
    }
}

#[test]
fn a_late_joiner_syncs_1000_blocks_in_batches() {
    let central = key(1);
    let mut chain = sim_chain(central.pubkey_hash());
    for i in 0..1000u64 {
        mine_on_at(&mut chain, central.pubkey_hash(), vec![], T0 + 1 + i);
    }
    let tip = chain.tip();
    let mut sim = Sim::new(3, LinkConfig::default());
    let relay = sim.add_node(config("3000", Role::Relay, 1), Some(chain));
    let late = sim.add_node(config("3009", Role::Wallet, 2), None);
    sim.connect(late, relay);
    assert!(sim.run_until_quiet(120_000));
    let got = sim.nodes[late].node.chain().expect("chain downloaded");
    assert_eq!(got.tip(), tip);
    assert_eq!(got.height(), 1000);
    assert!(sim.converged());
    // The seed needs a getdata and a block per block (2,002 frames for 1,001 blocks); batched
    // inv/getdata needs the blocks plus a handful of control frames.
    let frames = sim.frames_delivered;
    assert!(frames < 1001 + 40, "{frames} frames for 1001 blocks");
    // Everything it stored reloads to the same state.
    let store = &sim.nodes[late].store;
    let reloaded = store.load(Default::default()).expect("store reloads");
    assert_eq!(reloaded.tip(), tip);
    assert_eq!(reloaded.utxo().digest(), got.utxo().digest());
}

/// Relays peered only through a hub learn of each other from `addr`, dial each other, and
/// keep exchanging blocks after the hub crashes; with discovery off they would be cut off.
#[test]
fn relays_peered_through_a_hub_find_each_other_and_outlive_it() {
    for dial_learned in [4, 0] {
        let central = key(1);
        let mut sim = Sim::new(21, LinkConfig::default());
        let relay = |id: &str, nonce| NodeConfig {
            listen_url: Some(format!("ws://relay-{id}.test/ws")),
            dial_learned,
            ..config(id, Role::Relay, nonce)
        };
        let hub = sim.add_node(relay("3000", 1), Some(sim_chain(central.pubkey_hash())));
        let b = sim.add_node(relay("3001", 2), None);
        let c = sim.add_node(relay("3002", 3), None);
        sim.connect(b, hub);
        sim.connect(c, hub);
        assert!(sim.run_until_quiet(120_000));
        let peers_of = |sim: &Sim, i: usize| -> Vec<String> {
            sim.nodes[i]
                .node
                .peers()
                .into_iter()
                .filter_map(|p| p.node_id)
                .collect()
        };
        // Both dialled each other at once; each kept one connection, the same one.
        let links = |sim: &Sim, i: usize, other: &str| {
            peers_of(sim, i)
                .iter()
                .filter(|p| p.as_str() == other)
                .count()
        };
        let expected = usize::from(dial_learned > 0);
        assert_eq!(links(&sim, b, "3002"), expected, "B's links to C");
        assert_eq!(links(&sim, c, "3001"), expected, "C's links to B");

        sim.crash(hub);
        sim.with_node(b, |n, now| {
            let mut block = n
                .block_template(now, key(2).pubkey_hash(), vec![])
                .expect("B has the chain");
            mine(&mut block);
            n.submit_block(now, block).expect("B's own block");
        });
        sim.run_for(10_000);
        let height = |sim: &Sim, i: usize| sim.nodes[i].node.chain().map(|ch| ch.height());
        assert_eq!(height(&sim, b), Some(1));
        if dial_learned > 0 {
            assert!(sim.converged(), "C follows B without the hub");
        } else {
            assert_eq!(height(&sim, c), Some(0), "without discovery C is cut off");
        }
    }
}

#[test]
fn competing_miners_converge_on_the_most_work_chain() {
    let central = key(1);
    let (a_key, b_key) = (key(2), key(3));
    let mut sim = Sim::new(11, LinkConfig::default());
    let relay = sim.add_node(
        config("3000", Role::Relay, 1),
        Some(sim_chain(central.pubkey_hash())),
    );
    let a = sim.add_node(config("3101", Role::Miner, 2), None);
    let b = sim.add_node(config("3102", Role::Miner, 3), None);
    sim.connect(a, relay);
    sim.connect(b, relay);
    assert!(sim.run_until_quiet(120_000));
    // Cut A off; both find a block at the same height, then A finds another.
    sim.set_partition(a, relay, true);
    let mine_empty = |sim: &mut Sim, node: usize, to| {
        sim.with_node(node, |n, now| {
            let mut block = n.block_template(now, to, vec![]).unwrap();
            mine(&mut block);
            n.submit_block(now, block).unwrap();
        });
    };
    mine_empty(&mut sim, b, b_key.pubkey_hash());
    sim.run_for(1_000);
    mine_empty(&mut sim, a, a_key.pubkey_hash());
    sim.run_for(10);
    mine_empty(&mut sim, a, a_key.pubkey_hash());
    sim.run_for(5_000);
    assert_eq!(sim.distinct_tips(), 2, "a fork while partitioned");
    sim.set_partition(a, relay, false);
    assert!(sim.run_until_quiet(120_000));
    assert!(sim.converged(), "one tip after the partition heals");
    let c = sim.nodes[b].node.chain().unwrap();
    assert_eq!(c.height(), 2);
    assert_eq!(c.utxo().balance(&a_key.pubkey_hash()), 20);
    assert_eq!(
        c.utxo().balance(&b_key.pubkey_hash()),
        0,
        "B's block was reorganised away"
    );
}

#[test]
fn fifty_nodes_with_lossy_links_converge_and_lose_no_transaction() {
    let links = LinkConfig {
        latency_min_ms: 5,
        latency_max_ms: 60,
        drop_per_million: 50_000,
        reset_per_million: 5_000,
        retransmit_ms: 200,
        reconnect_ms: 500,
    };
    let faucet = key(1000);
    let keys: Vec<_> = (0..47u64).map(|i| key(2000 + i)).collect();
    let plan = NetworkPlan {
        seed: 42,
        links,
        relays: 3,
        miners: 3,
        rounds: 5,
        bits: SIM_BITS,
    };
    let net = FundedNetwork::build(&plan, &faucet, &keys).expect("genesis is valid");
    let (mut sim, clients) = (net.sim, net.clients);
    sim.watch = std::env::var("WATCH").ok();
    assert!(sim.run_until_quiet(600_000), "initial sync settles");
    // Rewards go to keys that pay nobody: a payment spending the coinbase of a block that a
    // reorganisation removes becomes invalid, which is not a loss (Bitcoin's coinbase
    // maturity exists for this; the seed has none).
    for (i, &m) in clients.iter().take(3).enumerate() {
        let to = key(9000 + i as u64).pubkey_hash();
        sim.with_node(m, |n, now| n.start_mining(now, to));
    }
    let submitted = sim.pay_randomly(&clients, &keys, 150, 20);
    assert!(submitted.len() >= 140, "payments were built");
    assert!(sim.run_until_quiet(600_000), "network settles");
    // With WATCH=<text>, print what every node said about it (to follow one transaction).
    for l in &sim.log {
        eprintln!("{l}");
    }
    assert!(sim.converged(), "tips: {}", sim.distinct_tips());
    let report = sim.tx_report(&submitted);
    assert_eq!(report.lost, 0, "{report:?}");
    assert!(report.confirmed > 100, "{report:?}");
}

fn handshaken_relay() -> (Node, u64) {
    let relay = relay_with_two_peers(&key(1));
    let genesis = relay.chain().unwrap().genesis_hash();
    (relay, genesis.to_hash().0[0] as u64)
}

#[test]
fn a_hostile_peer_is_disconnected_and_the_honest_one_is_still_served() {
    let attacks: Vec<Vec<Vec<u8>>> = vec![
        vec![b"garbage that is not a frame".to_vec()],
        vec![vec![0u8; protocol::MAX_FRAME_SIZE + 1]],
        vec![encode_frame(&Message::Inv(vec![
            InvItem::Tx(Txid::ZERO);
            protocol::MAX_INV_ITEMS + 1
        ]))],
        {
            let mut f = encode_frame(&Message::Ping(1));
            f[0] = b'X';
            vec![f]
        },
        {
            // A block with a bad proof of work, twice (invalid blocks score at once).
            let central = key(1);
            let chain = sim_chain(central.pubkey_hash());
            let mut b = chain.template(central.pubkey_hash(), vec![], 0, T0 + 5, b"");
            while node_core::consensus::pow::meets_target(&b.hash(), SIM_BITS) {
                b.header.nonce += 1;
            }
            vec![encode_frame(&Message::Block(b))]
        },
        {
            let mut f = encode_frame(&Message::Pong(3));
            f.push(1);
            vec![f.clone(), f]
        },
    ];
    for (i, frames) in attacks.into_iter().enumerate() {
        let (mut relay, _) = handshaken_relay();
        let mut actions = Vec::new();
        for f in frames {
            relay.handle(T0 + 1, Event::Frame { peer: 2, bytes: f });
            actions.extend(relay.drain_actions());
        }
        assert!(
            dropped_for_misbehaving(&actions, 2),
            "attack {i} leads to a disconnect: {actions:?}"
        );
        // The honest peer still gets answers.
        let genesis = relay.chain().unwrap().genesis_hash();
        relay.handle(
            T0 + 2,
            Event::Frame {
                peer: 1,
                bytes: encode_frame(&Message::GetData(vec![InvItem::Block(genesis)])),
            },
        );
        let served = relay.drain_actions().into_iter().any(|a| matches!(a,
            Action::Send { peer: 1, frame } if matches!(protocol::decode_frame(&frame), Ok(Message::Block(_)))));
        assert!(served, "attack {i}: honest peer still served");
    }
}

/// `addr` only adds entries: a peer cannot repoint a relay the node knows at its own URL,
/// which would hand it the node's outbound connections.
#[test]
fn addr_does_not_overwrite_a_known_relay() {
    let (mut relay, _) = handshaken_relay();
    let addr = |url: &str| {
        encode_frame(&Message::Addr(vec![protocol::PeerAddr {
            node_id: "3001".into(),
            url: Some(url.into()),
            role: Role::Relay,
        }]))
    };
    relay.handle(
        T0,
        Event::Frame {
            peer: 1,
            bytes: addr("ws://good.test/ws"),
        },
    );
    relay.handle(
        T0,
        Event::Frame {
            peer: 2,
            bytes: addr("ws://evil.test/ws"),
        },
    );
    // The book is keyed by URL: the second claim adds its own URL under the name it
    // claims, and what was known of ws://good.test/ws stays as it was.
    let good: Vec<String> = relay
        .known_addrs()
        .into_iter()
        .filter(|a| a.url.as_deref() == Some("ws://good.test/ws"))
        .map(|a| a.node_id)
        .collect();
    assert_eq!(good, ["3001"]);
}

#[test]
fn getdata_for_unknown_items_gets_notfound_not_garbage() {
    let (mut relay, _) = handshaken_relay();
    let missing = InvItem::Block(BlockHash::ZERO);
    relay.handle(
        T0,
        Event::Frame {
            peer: 1,
            bytes: encode_frame(&Message::GetData(vec![missing])),
        },
    );
    let replies: Vec<Message> = relay
        .drain_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { peer: 1, frame } => protocol::decode_frame(&frame).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![Message::NotFound(vec![missing])]);
}

#[test]
fn a_peer_on_another_genesis_is_refused_with_a_reason() {
    let (mut relay, _) = handshaken_relay();
    relay.handle(
        T0,
        Event::PeerConnected {
            peer: 9,
            outbound: false,
        },
    );
    let v = protocol::Version {
        protocol: protocol::PROTOCOL_VERSION,
        genesis: BlockHash::from_hash(node_core::primitives::hash::sha256(b"other network")),
        best_height: 3,
        tip: BlockHash::ZERO,
        chain_work: 10,
        node_id: "4999".into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 77,
        user_agent: "test".into(),
    };
    relay.handle(
        T0,
        Event::Frame {
            peer: 9,
            bytes: encode_frame(&Message::Version(v)),
        },
    );
    let reason = relay.drain_actions().into_iter().find_map(|a| match a {
        Action::Disconnect {
            peer: 9, reason, ..
        } => Some(reason),
        _ => None,
    });
    assert!(reason.expect("disconnected").contains("different genesis"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Nothing a peer sends can panic the node: random bytes, and valid frames with random
    /// bytes flipped.
    #[test]
    fn random_frames_never_panic_the_node(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        let (mut relay, _) = handshaken_relay();
        let genesis = relay.chain().unwrap().genesis_hash();
        let mut all: Vec<Vec<u8>> = frames.clone();
        let mut valid = vec![
            encode_frame(&Message::GetBlocks { locator: vec![genesis], stop: None }),
            encode_frame(&Message::Inv(vec![InvItem::Block(genesis)])),
            encode_frame(&Message::Block(relay.chain().unwrap().block(&genesis).unwrap().clone())),
        ];
        for f in valid.iter_mut() {
            for (pos, byte) in &flips {
                let len = f.len();
                f[pos % len] ^= byte;
            }
        }
        all.extend(valid);
        for (i, f) in all.into_iter().enumerate() {
            relay.handle(T0 + i as u64, Event::Frame { peer: 1 + (i as u64 % 2), bytes: f });
            relay.handle(T0 + i as u64, Event::Tick);
            relay.drain_actions();
        }
        prop_assert!(relay.chain().is_some());
    }
}

#[test]
fn a_miner_that_joins_after_the_payments_still_mines_them() {
    let central = key(1);
    let (w1, w2, miner) = (key(11), key(12), key(20));
    let mut sim = Sim::new(5, LinkConfig::default());
    let relay = sim.add_node(
        config("3000", Role::Relay, 1),
        Some(sim_chain(central.pubkey_hash())),
    );
    send_and_mine(&mut sim, relay, &central, w1.pubkey_hash(), 10);
    sim.run_for(10);
    send_and_mine(&mut sim, relay, &central, w2.pubkey_hash(), 10);
    let wallet = sim.add_node(config("3001", Role::Wallet, 2), None);
    sim.connect(wallet, relay);
    assert!(sim.run_until_quiet(120_000));
    for (from, to) in [(&w1, w2.pubkey_hash()), (&w2, w1.pubkey_hash())] {
        sim.with_node(wallet, |n, now| n.send_payment(now, from, to, 1, 0))
            .expect("funded");
    }
    assert!(sim.run_until_quiet(120_000));
    assert_eq!(sim.nodes[relay].node.mempool().len(), 2);
    // The miner arrives with no chain at all, and is told to mine before it has synced.
    let m = sim.add_node(config("3002", Role::Miner, 3), None);
    sim.with_node(m, |n, now| n.start_mining(now, miner.pubkey_hash()));
    sim.connect(m, relay);
    assert!(sim.run_until_quiet(120_000));
    assert!(sim.converged());
    assert_eq!(sim.nodes[m].mined, 1);
    assert_eq!(sim.balance(relay, &miner.pubkey_hash()), 10);
    assert!(sim.nodes[relay].node.mempool().is_empty());
}

/// A relay answers every `getblocks` at once with a full `inv` of blocks the tab has not
/// downloaded yet (a long chain, a fast relay, a slow tab). The tab used to ask for the next
/// batch after every full one, whatever its download queue could take: past
/// `FetchQueue::CAP` the batch was dropped, the next one asked for after it, and the blocks
/// of the dropped batch were never fetched — every later block an orphan, the download
/// stuck (a fresh tab stopped at block 26,782 of the 100,000-block benchmark chain). It
/// must stop asking while a batch would not fit, and never ask past a hash it dropped.
#[test]
fn a_relay_announcing_faster_than_a_tab_downloads_leaves_no_gap() {
    use node_core::node::peers::FetchQueue;
    let relay_peer = 1u64;
    let mut tab = Node::new(
        config("4001", Role::Wallet, 7),
        Some(sim_chain(key(9).pubkey_hash())),
    );
    let genesis = tab.chain().expect("a chain").genesis_hash();
    tab.handle(
        T0,
        Event::PeerConnected {
            peer: relay_peer,
            outbound: true,
        },
    );
    let version = protocol::Version {
        protocol: protocol::PROTOCOL_VERSION,
        genesis,
        best_height: 100_000,
        tip: BlockHash::from_hash(node_core::Hash256([0xEE; 32])),
        chain_work: u128::MAX / 2,
        node_id: "3000".into(),
        role: Role::Relay,
        listen_url: None,
        nonce: 99,
        user_agent: "test".into(),
    };
    for m in [Message::Version(version), Message::Verack] {
        tab.handle(T0, frame(relay_peer, &m));
    }
    // Block hashes of the relay's chain, in order (their bodies never come: the tab is slow).
    let hash = |n: u32| {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b[31] = 1;
        BlockHash::from_hash(node_core::Hash256(b))
    };
    let batch = protocol::MAX_INV_ITEMS as u32;
    let mut announced = 0u32;
    let mut asked_after: Vec<BlockHash> = Vec::new();
    for _ in 0..100 {
        let sent = sent_to(&tab.drain_actions(), relay_peer);
        let Some(Message::GetBlocks { locator, .. }) =
            sent.iter().find(|m| matches!(m, Message::GetBlocks { .. }))
        else {
            break;
        };
        asked_after.push(locator[0]);
        let inv: Vec<InvItem> = (announced..announced + batch)
            .map(|n| InvItem::Block(hash(n)))
            .collect();
        announced += batch;
        tab.handle(T0, frame(relay_peer, &Message::Inv(inv)));
    }
    let queued_at_most = FetchQueue::CAP as u32 + 128;
    assert!(
        announced <= queued_at_most,
        "the tab asked for {announced} announcements, more than it can queue ({queued_at_most})"
    );
    // Every `getblocks` after the first continued from the last hash of a batch it took.
    for (i, from) in asked_after.iter().enumerate().skip(1) {
        assert_eq!(*from, hash(i as u32 * batch - 1), "getblocks {i}");
    }
}
