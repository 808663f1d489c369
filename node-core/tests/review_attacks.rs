//! A second adversarial review of node-core, after issue 13's fixes: attacks the first review
//! did not show. Each test tells one attack and asserts what a trustworthy node does; each
//! fails on the code it was written against (see the report that came with it).
//!
//! Work is measured by counting or by the simulator's clock, never by wall time.

mod support;

use node_core::consensus::validation;
use node_core::node::{Event, Node, NodeConfig};
use node_core::protocol::{Message, Role, Version, PROTOCOL_VERSION};
use node_core::{Block, BlockHash, ChainParams, KeyPair, OutPoint, Transaction};
use support::chain::*;
use support::net::frame;
use support::*;

// ----- driving a node by hand ----------------------------------------------------------------

fn relay_version(node_id: &str, genesis: BlockHash, nonce: u64) -> Version {
    Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: node_id.into(),
        role: Role::Relay,
        listen_url: Some(format!("ws://{node_id}.example/ws")),
        nonce,
        user_agent: "attacker".into(),
    }
}

/// A tab (a wallet node on `chain`) dials the relay at peer `peer`, which shakes hands.
fn tab_dials(tab: &mut Node, peer: u64, node_id: &str) {
    let genesis = tab.chain().expect("tab has a chain").genesis_hash();
    tab.handle(
        NOW,
        Event::Dialled {
            peer,
            url: format!("ws://{node_id}.example/ws"),
            named: false,
        },
    );
    tab.handle(
        NOW,
        frame(
            peer,
            &Message::Version(relay_version(node_id, genesis, 90_000 + peer)),
        ),
    );
    tab.handle(NOW, frame(peer, &Message::Verack));
    tab.drain_actions();
}

fn tab_config() -> NodeConfig {
    NodeConfig {
        node_id: "3001".into(),
        role: Role::Wallet,
        nonce: 1,
        ..NodeConfig::default()
    }
}

/// A payment that spends `victim`'s coin `prev` to `thief` with a made-up signature: the
/// victim's public key (so the key matches the output) and a signature the thief made with
/// its own key.
fn forged_spend(victim: &KeyPair, thief: &KeyPair, prev: OutPoint) -> Transaction {
    let mut forged = pay(victim, &[prev], &[(thief.pubkey_hash(), SUBSIDY)]);
    let made_up = pay(thief, &[prev], &[(thief.pubkey_hash(), SUBSIDY)]);
    forged.inputs[0].signature = made_up.inputs[0].signature.clone();
    assert!(validation::verify_signatures(&forged).is_err());
    forged
}

// ----- 1. the shell's signature hint is bound to a header, not to a body ----------------------

/// What a tab's driver does with a `block` frame before the node sees it (node-wasm's
/// `submit_signatures` and `advance`): its workers verify every signature of the frame's
/// transactions, and if they all hold it tells the node that the block *hash* (the header's)
/// was verified. The frame's body need not be the one the header commits to.
fn driver_delivers(tab: &mut Node, peer: u64, block: &Block) {
    let signed: Vec<&Transaction> = block.transactions.iter().skip(1).collect();
    let all_hold = !signed.is_empty()
        && signed
            .iter()
            .all(|tx| validation::verify_signatures(tx).is_ok());
    if all_hold && tab.checks_signatures_at(block.coinbase_height().unwrap_or(0)) {
        tab.note_verified_block(block.hash());
    }
    tab.handle(NOW, frame(peer, &Message::Block(block.clone())));
}

/// A relay the tab failed over to mines one block whose payment spends the victim's coin with
/// a made-up signature. It first sends that block's header with another body: one honest
/// payment of its own (valid signature, any outpoint). The tab's workers verify that body's
/// signatures and vouch for the header's hash; the body fails the Merkle check, which does
/// not condemn the header (rightly), and the hint stays. Then the real body comes, from a
/// second connection: its signatures are skipped on the strength of the first body's, and
/// the forged spend enters the tab's UTXO set. Cost: one block of work.
#[test]
fn a_tab_that_verified_the_signatures_of_a_decoy_body_does_not_skip_them_for_the_real_one() {
    let victim = key(1);
    let thief = key(2);
    let chain = new_chain(victim.pubkey_hash());
    let coin = coinbase_of(chain.block_at(0).unwrap());
    let forged = forged_spend(&victim, &thief, coin);
    let mut real = chain.template(thief.pubkey_hash(), vec![forged], 0, next_time(&chain), b"");
    mine(&mut real);
    let mut tab = Node::new(tab_config(), Some(chain));
    tab_dials(&mut tab, 1, "evil");

    // The decoy: the real header over the coinbase and an honestly signed payment.
    let honest = pay(
        &thief,
        &[OutPoint {
            txid: node_core::Txid::from_hash(node_core::primitives::hash::sha256(b"anything")),
            vout: 0,
        }],
        &[(thief.pubkey_hash(), 1)],
    );
    let decoy = Block {
        header: real.header,
        transactions: vec![real.transactions[0].clone(), honest],
    };
    assert_eq!(decoy.hash(), real.hash());
    driver_delivers(&mut tab, 1, &decoy);
    tab.drain_actions();

    // The same relay, reconnected, sends the real block.
    tab.handle(NOW, Event::PeerDisconnected { peer: 1 });
    tab_dials(&mut tab, 2, "evil");
    driver_delivers(&mut tab, 2, &real);
    tab.drain_actions();

    assert_eq!(
        tab.balance(&thief.pubkey_hash()),
        0,
        "the forged spend reached the tab's UTXO set"
    );
    assert_eq!(tab.balance(&victim.pubkey_hash()), SUBSIDY);
    assert_ne!(tab.chain().unwrap().tip(), real.hash());
}

// ----- 2. a heavier chain whose fork is deeper than the side-branch budget --------------------

/// Subsidy of the network in the deep-fork test: large enough that one coinbase funds
/// thousands of outputs, so honest blocks can be full.
const RICH_SUBSIDY: u64 = 1 << 40;

/// A full, valid block on `parent` at `height`: its coinbase pays `key` the subsidy, then a
/// chain of payments, the first spending `parent`'s coinbase (which paid `key`), each
/// splitting the previous change into thousands of outputs: about 840 KB.
fn full_block(parent: &Block, height: u64, key: &KeyPair, tag: &[u8]) -> Block {
    let mut spend = coinbase_of(parent);
    let mut value = RICH_SUBSIDY;
    let mut txs = Vec::new();
    for _ in 0..10 {
        let pieces = 4_000u64;
        let mut outputs: Vec<(node_core::PubKeyHash, u64)> =
            (0..pieces).map(|_| (key.pubkey_hash(), 1)).collect();
        outputs.push((key.pubkey_hash(), value - pieces));
        let tx = pay(key, &[spend], &outputs);
        assert!(tx.encode().len() <= node_core::primitives::tx::MAX_TX_SIZE);
        value -= pieces;
        spend = outpoint(&tx, pieces as u32);
        txs.push(tx);
    }
    child_paying(parent, height, key.pubkey_hash(), RICH_SUBSIDY, txs, tag)
}

/// An empty block on `parent` at `height` paying `key` the subsidy.
fn empty_block(parent: &Block, height: u64, key: &KeyPair, tag: &[u8]) -> Block {
    child_paying(
        parent,
        height,
        key.pubkey_hash(),
        RICH_SUBSIDY,
        Vec::new(),
        tag,
    )
}

/// Two parts of the network mined apart for a while (a partition, a relay link down for an
/// afternoon; or an attacker who mined a branch privately). When they meet, every node must
/// follow the branch with the most work. A node downloading the heavier branch in order (as
/// `getblocks` serves it) keeps its blocks as side blocks until the last one tips the
/// balance; past 8 MiB of them the side-branch budget forgets the lowest-work side block, the
/// first of the branch, and with it the whole branch. The later blocks arrive as orphans
/// (16 MiB of them kept, oldest evicted), the node asks again from the missing root, and the
/// same happens on every round: a heavier fork deeper than both budgets (about 30 full
/// blocks, or 2,500 empty ones) is never followed. The nodes on the other side stay on it:
/// the network splits for good, and the node downloads 24 MiB per round for nothing.
#[test]
fn a_heavier_branch_forking_thirty_full_blocks_deep_is_followed_when_downloaded_in_order() {
    let ours = key(1);
    let theirs = key(2);
    let params = ChainParams {
        subsidy: RICH_SUBSIDY,
        ..ChainParams::default()
    };
    let genesis = genesis_paying(ours.pubkey_hash());
    let mut node = chain_with(params, genesis.clone());
    // Our side of the partition: 33 (empty) blocks.
    mine_empty(&mut node, ours.pubkey_hash(), 33);
    // Their side: 34 blocks from the genesis, all but the first full.
    let mut branch: Vec<Block> = vec![empty_block(&genesis, 1, &theirs, b"other side")];
    for height in 2..=34u64 {
        let block = full_block(&branch[branch.len() - 1], height, &theirs, b"other side");
        branch.push(block);
    }
    assert!(branch
        .iter()
        .all(|b| b.encoded_size() <= node_core::consensus::params::MAX_BLOCK_SIZE));
    let heavier = branch[33].hash();
    // The download, and the node asking again from what it lacks: each round brings the
    // branch in order from the fork.
    for _round in 0..3 {
        for block in &branch {
            assert!(
                accept(&mut node, block.clone()).is_ok(),
                "every block is valid"
            );
        }
        if node.tip() == heavier {
            break;
        }
    }
    assert_eq!(
        node.tip(),
        heavier,
        "the node stays on the lighter chain (height {}) while the network follows the \
         heavier one: the fork is deeper than its side-branch and orphan budgets",
        node.height()
    );
}

// ----- 3. the mempool's signature checks vouch for its own transactions only ------------------

/// A node does not check again the signatures of a block whose payments all sit in its
/// mempool (they were checked on the way in). A relay tries to ride on that: it mines a block
/// that carries a payment the tab holds beside a forged spend of the victim's other coin,
/// hoping the one known payment makes the tab skip the whole block's signatures. The tab
/// checks them (the forged spend is not in its mempool) and refuses the block.
#[test]
fn a_forged_spend_beside_a_payment_the_mempool_holds_is_still_checked() {
    let victim = key(1);
    let thief = key(2);
    let mut chain = new_chain(victim.pubkey_hash());
    let mut second = chain.template(victim.pubkey_hash(), vec![], 0, next_time(&chain), b"");
    mine(&mut second);
    let t = next_time(&chain);
    chain
        .accept_block(second.clone(), t)
        .expect("an honest block");
    let coins = [
        coinbase_of(chain.block_at(0).unwrap()),
        coinbase_of(&second),
    ];
    let mut tab = Node::new(tab_config(), Some(chain));
    tab_dials(&mut tab, 1, "evil");

    // The victim pays someone honestly: the payment is checked and held.
    let honest = pay(&victim, &[coins[0]], &[(key(3).pubkey_hash(), SUBSIDY)]);
    tab.handle(NOW, frame(1, &Message::Tx(honest.clone())));
    tab.drain_actions();
    assert!(
        tab.mempool().contains(&honest.txid()),
        "the honest payment is held"
    );

    // The relay's block: that payment, and a forged spend of the victim's other coin.
    let forged = forged_spend(&victim, &thief, coins[1]);
    let tip = tab.chain().unwrap().tip();
    let mut block = tab.chain().unwrap().template(
        thief.pubkey_hash(),
        vec![honest, forged],
        0,
        next_time(tab.chain().unwrap()),
        b"",
    );
    mine(&mut block);
    tab.handle(NOW, frame(1, &Message::Block(block.clone())));
    tab.drain_actions();

    assert_eq!(
        tab.balance(&thief.pubkey_hash()),
        0,
        "the forged spend reached the tab's UTXO set"
    );
    assert_eq!(tab.chain().unwrap().tip(), tip, "the block was refused");
    assert_ne!(tab.chain().unwrap().tip(), block.hash());
}
