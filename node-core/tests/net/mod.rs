//! Helpers shared by the simulated-network tests.
#![allow(dead_code)]

use node_core::chain::mine_genesis;
use node_core::consensus::params::ChainParams;
use node_core::consensus::pow;
use node_core::node::NodeConfig;
use node_core::protocol::Role;
use node_core::sim::Sim;
use node_core::{Block, Chain, KeyPair, PubKeyHash, Transaction};
use rand_chacha::rand_core::SeedableRng;

/// Difficulty for simulations: fast to mine, still real proof of work.
pub const BITS: u32 = 8;
/// A fixed start time (ms).
pub const T0: u64 = 1_700_000_000_000;

pub fn key(seed: u64) -> KeyPair {
    KeyPair::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}

pub fn config(id: &str, role: Role, nonce: u64) -> NodeConfig {
    NodeConfig {
        node_id: id.into(),
        role,
        nonce,
        ..NodeConfig::default()
    }
}

/// A chain whose genesis pays `to`.
pub fn new_chain(to: PubKeyHash) -> Chain {
    let genesis = mine_genesis(to, 10, T0, BITS, b"genesis");
    Chain::new(ChainParams::default(), genesis, T0).expect("genesis is valid")
}

/// Mines a block on `chain`'s tip with `txs`, coinbase to `to`, and accepts it.
pub fn mine_on(chain: &mut Chain, to: PubKeyHash, txs: Vec<Transaction>, now: u64) -> Block {
    let mut block = chain.template(to, txs, 0, now, b"");
    pow::mine(&mut block.header).expect("low difficulty is always solved");
    chain
        .accept_block(block.clone(), now)
        .expect("block built on the tip is valid");
    block
}

/// Mines `block`'s header in place.
pub fn solve(block: &mut Block) {
    pow::mine(&mut block.header).expect("low difficulty is always solved");
}

/// The `--mine` send of the seed's CLI, on a node of the simulation.
pub fn send_and_mine(sim: &mut Sim, node: usize, from: &KeyPair, to: PubKeyHash, amount: u64) {
    sim.with_node(node, |n, now| {
        let chain = n.chain().expect("node has a chain");
        let tx = node_core::wallet::build_payment(from, to, amount, 0, chain.utxo(), n.mempool())
            .expect("funds are there");
        let mut block = n
            .block_template(now, from.pubkey_hash(), vec![tx])
            .expect("node has a chain");
        solve(&mut block);
        n.submit_block(now, block).expect("block is valid");
    });
}

/// A relay node with a chain whose genesis pays `central`, and inbound peers 1 and 2 (tabs)
/// past the handshake; the actions of the handshake are drained.
pub fn relay_with_two_peers(central: &KeyPair) -> node_core::node::Node {
    use node_core::node::{Event, Node};
    use node_core::protocol::{self, encode_frame, Message};
    let mut relay = Node::new(
        config("3000", Role::Relay, 1),
        Some(new_chain(central.pubkey_hash())),
    );
    let genesis = relay.chain().expect("a chain").genesis_hash();
    for peer in [1u64, 2] {
        relay.handle(
            T0,
            Event::PeerConnected {
                peer,
                outbound: false,
            },
        );
        let v = protocol::Version {
            protocol: protocol::PROTOCOL_VERSION,
            genesis,
            best_height: 0,
            tip: genesis,
            chain_work: 0,
            node_id: format!("40{peer}"),
            role: Role::Wallet,
            listen_url: None,
            nonce: 50 + peer,
            user_agent: "test".into(),
        };
        for m in [Message::Version(v), Message::Verack] {
            relay.handle(
                T0,
                Event::Frame {
                    peer,
                    bytes: encode_frame(&m),
                },
            );
        }
    }
    relay.drain_actions();
    relay
}
