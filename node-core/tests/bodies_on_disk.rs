//! A chain whose bodies live in its shell's storage ([`BodySource`]), as the relay's do:
//! memory keeps recent bodies only, older ones are read from the store when asked for, a
//! reorganisation deeper than the recent bodies disconnects with undo data read back from
//! the store, and a body the shell has not committed yet never leaves memory.

mod support;

use std::sync::{Arc, Mutex};

use node_core::chain::{BodySource, RECENT_BODIES};
use node_core::store::StoredChain;
use node_core::utxo::BlockUndo;
use node_core::{Block, BlockHash, Chain, ChainParams, PubKeyHash};
use support::chain::*;

/// A store the test commits to by hand: what the shell's database would hold.
#[derive(Debug, Default)]
struct Committed(Mutex<StoredChain>);

impl Committed {
    fn commit(&self, chain: &mut Chain) {
        let changes = chain.take_changes();
        self.0.lock().expect("not poisoned").apply(&changes);
    }
}

impl BodySource for Committed {
    fn block(&self, hash: &BlockHash) -> Option<Block> {
        self.0.lock().ok()?.blocks.get(hash).cloned()
    }
    fn undo(&self, hash: &BlockHash) -> Option<BlockUndo> {
        self.0.lock().ok()?.undo.get(hash).cloned()
    }
    fn has_block(&self, hash: &BlockHash) -> bool {
        self.0.lock().is_ok_and(|s| s.blocks.contains_key(hash))
    }
    fn has_undo(&self, hash: &BlockHash) -> bool {
        self.0.lock().is_ok_and(|s| s.undo.contains_key(hash))
    }
}

/// Active blocks whose bodies are in memory.
fn in_memory(chain: &Chain) -> usize {
    (0..=chain.height())
        .filter(|h| chain.block_at(*h).is_some())
        .count()
}

fn backed_chain() -> (Chain, Arc<Committed>) {
    let store = Arc::new(Committed::default());
    let mut chain = new_chain(PubKeyHash([1; 20]));
    chain.keep_bodies_in(store.clone());
    store.commit(&mut chain);
    (chain, store)
}

#[test]
fn memory_keeps_recent_bodies_and_reads_older_ones_from_the_store() {
    let (mut chain, store) = backed_chain();
    for _ in 0..RECENT_BODIES * 3 {
        mine_on(&mut chain, PubKeyHash([2; 20]), Vec::new());
        store.commit(&mut chain);
    }
    assert!(
        in_memory(&chain) <= RECENT_BODIES + 1,
        "{} bodies in memory",
        in_memory(&chain)
    );
    let old = chain.hash_at(1).expect("height 1");
    assert!(chain.block(&old).is_none(), "an old body left memory");
    let body = chain.body(&old).expect("read from the store");
    assert_eq!(body.hash(), old);
}

#[test]
fn a_body_not_yet_committed_stays_in_memory() {
    let (mut chain, store) = backed_chain();
    // The shell falls behind: nothing is committed for three times the recent bodies.
    let mut pending = Vec::new();
    for _ in 0..RECENT_BODIES * 3 {
        mine_on(&mut chain, PubKeyHash([2; 20]), Vec::new());
        pending.push(chain.take_changes());
    }
    for h in 0..=chain.height() {
        let hash = chain.hash_at(h).expect("active");
        assert!(
            chain.body(&hash).is_some(),
            "body at {h} was lost before its commit"
        );
    }
    for c in &pending {
        store.0.lock().expect("not poisoned").apply(c);
    }
    mine_on(&mut chain, PubKeyHash([2; 20]), Vec::new());
    store.commit(&mut chain);
    assert!(
        in_memory(&chain) <= RECENT_BODIES + 1,
        "stored bodies left memory"
    );
}

#[test]
fn a_reorganisation_deeper_than_memory_reads_bodies_and_undo_from_the_store() {
    let (mut chain, store) = backed_chain();
    mine_empty(&mut chain, PubKeyHash([2; 20]), 5);
    store.commit(&mut chain);
    // A rival, all in memory, forks here and will outwork the relay's chain.
    let mut rival = new_chain(PubKeyHash([1; 20]));
    for h in 1..=chain.height() {
        let b = chain.body_at(h).expect("stored").into_owned();
        accept(&mut rival, b).expect("same blocks");
    }
    let depth = RECENT_BODIES as u64 + 10;
    for _ in 0..depth {
        mine_on(&mut chain, PubKeyHash([3; 20]), Vec::new());
        store.commit(&mut chain);
    }
    for _ in 0..=depth {
        mine_on(&mut rival, PubKeyHash([4; 20]), Vec::new());
    }
    let fork = 5;
    let mut disconnected = 0;
    for h in fork + 1..=rival.height() {
        let b = rival.block_at(h).expect("in memory").clone();
        if let Ok(node_core::AcceptOutcome::TipChanged(steps)) = accept(&mut chain, b) {
            disconnected += steps
                .iter()
                .filter(|s| matches!(s, node_core::chain::TipStep::Disconnected(_)))
                .count();
        }
        store.commit(&mut chain);
    }
    assert_eq!(chain.tip(), rival.tip());
    assert_eq!(
        disconnected as u64, depth,
        "every old block came back to disconnect"
    );
    assert_eq!(chain.utxo().digest(), rival.utxo().digest());

    // A restart loads the block index (stored beside each header by the shell) and the
    // UTXO set only, and agrees.
    let stored = store.0.lock().expect("not poisoned").clone();
    let (index, _) = node_core::chain::BlockIndex::linked_from(
        chain
            .entries()
            .filter(|(h, _)| stored.blocks.contains_key(h))
            .collect(),
    );
    let utxo = node_core::UtxoSet::from_entries(stored.utxo.clone());
    let tip = stored.tip.expect("a tip");
    let reloaded = Chain::from_stored_index(
        ChainParams::default(),
        chain.bits(),
        index,
        tip,
        utxo,
        store.clone(),
    )
    .expect("loads");
    assert_eq!(reloaded.tip(), rival.tip());
    assert_eq!(in_memory(&reloaded), 0, "no body was read at start");
    assert_eq!(
        reloaded.body_at(3).map(|b| b.hash()),
        rival.hash_at(3),
        "old bodies are read when asked for"
    );
}
