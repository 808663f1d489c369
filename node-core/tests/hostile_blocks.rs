//! Attacks with blocks on a node, told as stories: a peer hands over a mutated body of an
//! honest block, a peer pushes blocks nobody asked for that add no work.

mod support;

use node_core::node::{Action, Node, Notification};
use node_core::protocol::{self, InvItem, Message};
use node_core::{Block, BlockHash, KeyPair, OutPoint, Transaction, TxOut};
use support::net::*;
use support::*;

/// `peer` sends `message` to `relay` a second after the start; returns the relay's actions.
fn deliver(relay: &mut Node, peer: u64, message: &Message) -> Vec<Action> {
    relay.handle(T0 + 1_000, frame(peer, message));
    relay.drain_actions()
}

fn asked_for(actions: &[Action], peer: u64, hash: BlockHash) -> bool {
    actions.iter().any(|a| match a {
        Action::Send { peer: p, frame } if *p == peer => matches!(
            protocol::decode_frame(frame),
            Ok(Message::GetData(items)) if items.contains(&InvItem::Block(hash))
        ),
        _ => false,
    })
}

/// An honest block of three transactions: the coinbase, a payment from the genesis coin, and
/// a payment spending that payment's change.
fn honest_block(relay: &Node, central: &KeyPair) -> Block {
    let chain = relay.chain().unwrap();
    let genesis_coin = chain.block_at(0).unwrap().transactions[0].txid();
    let to = |value| TxOut {
        value,
        pubkey_hash: key(7).pubkey_hash(),
    };
    let first = Transaction::new_signed(
        central,
        &[OutPoint {
            txid: genesis_coin,
            vout: 0,
        }],
        vec![
            to(4),
            TxOut {
                value: 6,
                pubkey_hash: central.pubkey_hash(),
            },
        ],
    );
    let second = Transaction::new_signed(
        central,
        &[OutPoint {
            txid: first.txid(),
            vout: 1,
        }],
        vec![to(6)],
    );
    let mut block = chain.template(central.pubkey_hash(), vec![first, second], 0, T0 + 10, b"");
    mine(&mut block);
    block
}

/// Review item 1, as the duplicated-leaf variant that survives a domain-separated tree
/// (CVE-2012-2459): `[cb, a, b]` and `[cb, a, b, b]` share a Merkle root and a header. The
/// attacker relays the mutated body of an honest block. The header must not be condemned:
/// the attacker is charged and the real block is fetched from the peer that announced it.
#[test]
fn a_mutated_body_under_an_honest_header_condemns_the_sender_and_the_real_block_still_comes() {
    let central = key(1);
    let mut relay = relay_with_two_peers(&central);
    let block = honest_block(&relay, &central);
    let hash = block.hash();
    let mut mutated = block.clone();
    mutated.transactions.push(block.transactions[2].clone());
    assert_eq!(mutated.hash(), hash, "same header");
    assert_eq!(
        mutated.compute_merkle_root(),
        block.header.merkle_root,
        "same root"
    );

    // The attacker (1) announces first and is asked; the honest peer (2) announces too.
    let actions = deliver(&mut relay, 1, &Message::Inv(vec![InvItem::Block(hash)]));
    assert!(asked_for(&actions, 1, hash));
    deliver(&mut relay, 2, &Message::Inv(vec![InvItem::Block(hash)]));
    // The mutated body arrives.
    let actions = deliver(&mut relay, 1, &Message::Block(mutated));
    assert!(
        dropped_for_misbehaving(&actions, 1),
        "the sender of the mutated body is disconnected"
    );
    assert!(
        !relay.chain().unwrap().is_invalid(&hash),
        "the header is not condemned"
    );
    assert!(
        asked_for(&actions, 2, hash),
        "the real block is asked of the honest peer"
    );
    // And it connects.
    deliver(&mut relay, 2, &Message::Block(block));
    assert_eq!(relay.chain().unwrap().tip(), hash);
}

/// Review item 6: an unrequested block that adds no work (a sibling of the tip, say) costs
/// its sender a penalty and the node nothing: not stored, not kept, not checked.
#[test]
fn unrequested_blocks_that_add_no_work_are_refused_and_charged_to_their_sender() {
    let central = key(1);
    let mut relay = relay_with_two_peers(&central);
    let block = honest_block(&relay, &central);
    deliver(
        &mut relay,
        2,
        &Message::Inv(vec![InvItem::Block(block.hash())]),
    );
    deliver(&mut relay, 2, &Message::Block(block.clone()));
    assert_eq!(relay.chain().unwrap().height(), 1);
    let genesis = relay.chain().unwrap().block_at(0).unwrap().clone();
    let mut penalties = 0;
    let mut stored = 0;
    for i in 0..10u64 {
        let mut sibling = Block::new_template(
            genesis.hash(),
            T0 + 20 + i,
            SIM_BITS,
            vec![Transaction::new_coinbase(
                1,
                key(9).pubkey_hash(),
                10,
                &i.to_le_bytes(),
            )],
        );
        mine(&mut sibling);
        let actions = deliver(&mut relay, 1, &Message::Block(sibling.clone()));
        stored += actions
            .iter()
            .filter(|a| matches!(a, Action::Persist(_)))
            .count();
        penalties += actions
            .iter()
            .filter(|a| {
                matches!(a, Action::Notify(Notification::PeerPenalised { peer: 1, reason, .. })
                    if reason.contains("adds no work"))
            })
            .count();
        assert!(!relay.chain().unwrap().contains(&sibling.hash()));
        if dropped_for_misbehaving(&actions, 1) {
            break;
        }
    }
    assert!(penalties >= 1);
    assert_eq!(stored, 0, "nothing was written for them");
    assert_eq!(relay.chain().unwrap().tip(), block.hash());
}
