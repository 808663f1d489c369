//! The node state machine fed arbitrary frame sequences by a peer that completed the
//! handshake: nothing it sends panics the node, and the node always keeps its chain.
//!
//! The input is split on a separator byte into frames; a frame starting with byte < 13 gets
//! a valid header for that command so the payload decoders are exercised, not just the magic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::chain::mine_genesis;
use node_core::node::{Event, Node, NodeConfig};
use node_core::consensus::params::ChainParams;
use node_core::protocol::{self, encode_frame, Message, Role, Version, COMMANDS, MAGIC};
use node_core::{BlockHash, Chain, PubKeyHash};

fn relay() -> Node {
    let t0 = 1_700_000_000_000;
    let genesis = mine_genesis(PubKeyHash([1; 20]), 10, t0, 4, b"fuzz");
    let chain = Chain::new(ChainParams::default(), genesis, t0).ok();
    let genesis_hash = chain.as_ref().map(|c| c.genesis_hash()).unwrap_or(BlockHash::ZERO);
    let mut node = Node::new(
        NodeConfig {
            nonce: 1,
            ban_score: u32::MAX,
            ..NodeConfig::default()
        },
        chain,
    );
    node.handle(
        t0,
        Event::PeerConnected {
            peer: 1,
            outbound: false,
        },
    );
    let v = Version {
        protocol: protocol::PROTOCOL_VERSION,
        genesis: genesis_hash,
        best_height: 0,
        tip: genesis_hash,
        chain_work: 0,
        node_id: "fuzz".into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 2,
        user_agent: "fuzz".into(),
    };
    node.handle(
        t0,
        Event::Frame {
            peer: 1,
            bytes: encode_frame(&Message::Version(v)),
        },
    );
    node.handle(
        t0,
        Event::Frame {
            peer: 1,
            bytes: encode_frame(&Message::Verack),
        },
    );
    node.drain_actions();
    node
}

fuzz_target!(|data: &[u8]| {
    let mut node = relay();
    let mut now = 1_700_000_000_001;
    for chunk in data.split(|b| *b == 0xA5).take(64) {
        let frame = match chunk.split_first() {
            Some((c, rest)) if (*c as usize) < COMMANDS.len() => {
                let mut f = MAGIC.to_vec();
                let mut cmd = [0u8; 12];
                cmd[..COMMANDS[*c as usize].len()]
                    .copy_from_slice(COMMANDS[*c as usize].as_bytes());
                f.extend_from_slice(&cmd);
                f.push(*c);
                f.extend_from_slice(rest);
                f
            }
            _ => chunk.to_vec(),
        };
        node.handle(
            now,
            Event::Frame {
                peer: 1,
                bytes: frame,
            },
        );
        node.handle(now, Event::Tick);
        now += 1_000;
        node.drain_actions();
    }
    assert!(node.chain().is_some());
});
