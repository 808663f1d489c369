//! Nodes and simulated networks: node configurations, a chain for a simulation, handshakes
//! driven by hand, frames, and what a node's actions say.

use node_core::node::{Action, Event, Node, NodeConfig};
use node_core::protocol::{self, decode_frame, encode_frame, Message, Role};
use node_core::sim::Sim;
use node_core::{Block, Chain, ChainParams, KeyPair, PubKeyHash, Transaction};

use super::chain::{chain_with, genesis_at_bits};
use super::{mine, T0};

/// Proof-of-work bits of simulated networks. The simulator's miners take (hashes tried /
/// hash rate) of simulated time, so this sets how long a block takes there: 256 hashes,
/// about a quarter of a millisecond at its 1,000 hashes a millisecond. The races between
/// miners in these tests were set up at this value. (Chains built by hand use
/// [`super::chain::FAST_BITS`].)
pub const SIM_BITS: u32 = 8;

/// A node configuration with the fields a test chooses.
pub fn config(id: &str, role: Role, nonce: u64) -> NodeConfig {
    NodeConfig {
        node_id: id.into(),
        role,
        nonce,
        ..NodeConfig::default()
    }
}

/// A chain at [`SIM_BITS`] whose genesis pays `to`.
pub fn sim_chain(to: PubKeyHash) -> Chain {
    chain_with(ChainParams::default(), genesis_at_bits(to, SIM_BITS))
}

/// Mines a block at time `now` on `chain`'s tip with `txs` (which pay no fee), coinbase to
/// `to`, and accepts it with the clock at `now`.
pub fn mine_on_at(chain: &mut Chain, to: PubKeyHash, txs: Vec<Transaction>, now: u64) -> Block {
    let mut block = chain.template(to, txs, 0, now, b"");
    mine(&mut block);
    chain
        .accept_block(block.clone(), now)
        .expect("block built on the tip is valid");
    block
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
        mine(&mut block);
        n.submit_block(now, block).expect("block is valid");
    });
}

/// The event of `peer` sending `m`.
pub fn frame(peer: u64, m: &Message) -> Event {
    Event::Frame {
        peer,
        bytes: encode_frame(m),
    }
}

/// A relay node with a chain whose genesis pays `central`, and inbound peers 1 and 2 (tabs)
/// past the handshake; the actions of the handshake are drained.
pub fn relay_with_two_peers(central: &KeyPair) -> Node {
    let mut relay = Node::new(
        config("3000", Role::Relay, 1),
        Some(sim_chain(central.pubkey_hash())),
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
            relay.handle(T0, frame(peer, &m));
        }
    }
    relay.drain_actions();
    relay
}

/// Whether `actions` drop `peer` for misbehaving.
pub fn dropped_for_misbehaving(actions: &[Action], peer: u64) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Disconnect { peer: p, misbehaved: true, .. } if *p == peer))
}

/// Messages sent to `peer` among `actions`.
pub fn sent_to(actions: &[Action], peer: u64) -> Vec<Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { peer: p, frame } if *p == peer => decode_frame(frame).ok(),
            Action::Broadcast { peers, frame } if peers.contains(&peer) => decode_frame(frame).ok(),
            _ => None,
        })
        .collect()
}
