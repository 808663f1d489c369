//! Attacks on the relay's UTXO set kept in the chain file (`UtxoSet::over(store.coins())`):
//! memory holds only the coins changed since the last commit, the rest is read from redb.
//! A chain loaded from the file, extended by payments and a reorganisation, and persisted
//! in any grouping of batches must reload as the same chain a node holding every coin in
//! memory has; a coin row that does not decode is refused at load, and a failed coin read
//! stops every later write.

mod common;

use std::path::Path;
use std::sync::Arc;

use node_core::chain::{mine_genesis, ChainChanges};
use node_core::consensus::pow;
use node_core::utxo::CoinSource;
use node_core::{
    AcceptOutcome, Block, Chain, ChainParams, KeyPair, OutPoint, PubKeyHash, Transaction, TxOut,
};
use rand_core::OsRng;
use redb::{ReadableTable, TableDefinition};
use relay_server::store::{Store, StoreError};

/// Test outcome: a failed step is an error naming it, not a panic.
type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Worthless coins that fill more than the relay's redb page cache (4 MiB).
const DUST_COINS: u32 = 80_000;
/// The relay's coin table, as the file names it (to damage a row from outside).
const UTXO: TableDefinition<&[u8], &[u8]> = TableDefinition::new("utxo");
/// Proof-of-work bits of these chains: a few hashes a block.
const BITS: u32 = 4;
/// Timestamp of the genesis (ms).
const T0: u64 = 1_700_000_000_000;

/// A genesis paying `to`, and a chain on it holding every coin in memory.
fn chain_paying(to: PubKeyHash) -> TestResult<Chain> {
    let params = ChainParams::default();
    let genesis = mine_genesis(to, params.subsidy, T0, BITS, b"stored coins");
    Ok(Chain::new(params, genesis, T0)?)
}

/// A mined block on `c`'s tip paying `miner`, holding `txs` (which pay no fee).
fn block_on(c: &Chain, miner: PubKeyHash, txs: Vec<Transaction>, tag: &[u8]) -> TestResult<Block> {
    let now = c.entry(&c.tip()).ok_or("tip not indexed")?.timestamp + 1000;
    let mut b = c.template(miner, txs, 0, now, tag);
    pow::mine(&mut b.header).ok_or("no nonce meets the bits")?;
    Ok(b)
}

/// `block` accepted by every chain in `chains`; each must connect it (or each refuse it).
fn accept_all(chains: &mut [&mut Chain], block: &Block) -> TestResult<Vec<bool>> {
    let mut connected = Vec::new();
    for c in chains.iter_mut() {
        let now = block.header.timestamp;
        let outcome = c.accept_block(block.clone(), now);
        connected.push(matches!(outcome, Ok(AcceptOutcome::TipChanged(_))));
    }
    Ok(connected)
}

/// `key` pays all of `coin` to `to` (no fee).
fn pay_all(c: &Chain, key: &KeyPair, coin: OutPoint, to: PubKeyHash) -> TestResult<Transaction> {
    let value = c
        .utxo()
        .get(&coin)
        .ok_or("the coin is not unspent")?
        .output
        .value;
    Ok(Transaction::new_signed(
        key,
        &[coin],
        vec![
            TxOut {
                value: value / 2,
                pubkey_hash: to,
            },
            TxOut {
                value: value - value / 2,
                pubkey_hash: key.pubkey_hash(),
            },
        ],
    ))
}

/// The coinbase output of `block`.
fn coinbase_of(block: &Block) -> OutPoint {
    OutPoint {
        txid: block.transactions[0].txid(),
        vout: 0,
    }
}

/// The two chains agree on the tip, the set's digest, its size and every key's balance.
fn same(a: &Chain, b: &Chain, keys: &[&KeyPair]) {
    assert_eq!(a.tip(), b.tip());
    assert_eq!(a.height(), b.height());
    assert_eq!(a.utxo().digest(), b.utxo().digest());
    assert_eq!(a.utxo().len(), b.utxo().len());
    for k in keys {
        let owner = k.pubkey_hash();
        assert_eq!(a.utxo().balance(&owner), b.utxo().balance(&owner));
        assert_eq!(a.utxo().outputs_of(&owner), b.utxo().outputs_of(&owner));
    }
}

fn load(store: &Store) -> TestResult<Chain> {
    Ok(store
        .load_chain(ChainParams::default())?
        .ok_or("no tip was stored")?)
}

/// A chain loaded from the file spends coins the file holds, creates and spends coins in
/// batches written late and together, reorganises onto a longer branch that spends the
/// same coin differently, and is persisted: it reads as a chain holding every coin in
/// memory at each step, holds nothing in memory once persisted, and reloads the same.
#[test]
fn a_loaded_chain_paying_and_reorganising_persists_and_reloads_as_one_in_memory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("chain.db");
    let alice = KeyPair::generate(&mut OsRng);
    let bob = KeyPair::generate(&mut OsRng);
    let carol = KeyPair::generate(&mut OsRng);
    let keys = [&alice, &bob, &carol];

    let mut mem = chain_paying(alice.pubkey_hash())?;
    let store = Store::create(&path)?;
    store.apply(&[mem.take_changes()])?;
    // Alice mines three blocks: their coins reach the file before the chain is loaded.
    let mut mined = Vec::new();
    for i in 0..3u8 {
        let b = block_on(&mem, alice.pubkey_hash(), vec![], &[i])?;
        accept_all(&mut [&mut mem], &b)?;
        mined.push(b);
    }
    store.apply(&[mem.take_changes()])?;
    let mut disk = load(&store)?;
    assert_eq!(
        disk.utxo().held_in_memory(),
        0,
        "a loaded set holds no coin"
    );
    same(&mem, &disk, &keys);

    // Batch n: a block spends a stored coin (the genesis coin) to Bob.
    let genesis = disk.body_at(0).ok_or("genesis")?;
    let genesis_coin = coinbase_of(&genesis);
    let to_bob = pay_all(&disk, &alice, genesis_coin, bob.pubkey_hash())?;
    let bob_coin = OutPoint {
        txid: to_bob.txid(),
        vout: 0,
    };
    let b1 = block_on(&mem, carol.pubkey_hash(), vec![to_bob], b"n")?;
    assert_eq!(accept_all(&mut [&mut mem, &mut disk], &b1)?, [true, true]);
    let batch_n = disk.take_changes();
    // Batch n+1: Bob spends the coin batch n created; n+1 is not written.
    let from_bob = pay_all(&disk, &bob, bob_coin, carol.pubkey_hash())?;
    let b2 = block_on(&mem, carol.pubkey_hash(), vec![from_bob], b"n+1")?;
    assert_eq!(accept_all(&mut [&mut mem, &mut disk], &b2)?, [true, true]);
    let batch_n1 = disk.take_changes();
    store.apply(std::slice::from_ref(&batch_n))?;
    disk.stored(batch_n.batch);
    assert_eq!(
        disk.utxo().get(&bob_coin),
        None,
        "n+1 spent it; the file still has it"
    );
    assert!(store.coins().coin(&bob_coin).is_some());
    same(&mem, &disk, &keys);
    // Batch n+1 and the next one written together in one transaction, reported once.
    let b3 = block_on(&mem, alice.pubkey_hash(), vec![], b"n+2")?;
    assert_eq!(accept_all(&mut [&mut mem, &mut disk], &b3)?, [true, true]);
    let batch_n2 = disk.take_changes();
    store.apply(&[batch_n1, batch_n2.clone()])?;
    disk.stored(batch_n2.batch);
    assert_eq!(disk.utxo().held_in_memory(), 0);
    assert_eq!(store.coins().coin(&bob_coin), None);
    same(&mem, &disk, &keys);

    // A longer branch from below b1: the genesis coin goes to Carol instead, and the
    // coins b1..b3 made are gone. Persisted block by block with `Store::persist`.
    // A chain at the fork (height 3), built from the same blocks.
    let mut branch = chain_paying(alice.pubkey_hash())?;
    for b in &mined {
        accept_all(&mut [&mut branch], b)?;
    }
    assert_eq!(branch.height(), 3);
    let to_carol = pay_all(&branch, &alice, genesis_coin, carol.pubkey_hash())?;
    let mut txs = vec![to_carol];
    for i in 0..4u8 {
        let b = block_on(
            &branch,
            bob.pubkey_hash(),
            std::mem::take(&mut txs),
            &[b'r', i],
        )?;
        accept_all(&mut [&mut branch], &b)?;
        accept_all(&mut [&mut mem, &mut disk], &b)?;
        same(&mem, &disk, &keys);
        store.persist(&mut disk)?;
        assert_eq!(
            disk.utxo().held_in_memory(),
            0,
            "persisted: memory holds no coin"
        );
        same(&mem, &disk, &keys);
    }
    assert_eq!(disk.tip(), branch.tip(), "the longer branch won");
    assert_eq!(disk.utxo().get(&bob_coin), None);
    assert!(disk.utxo().balance(&carol.pubkey_hash()) > 0);

    drop((disk, store));
    let store = Store::open(&path)?;
    let reloaded = load(&store)?;
    same(&mem, &reloaded, &keys);
    assert_eq!(reloaded.utxo().entries(), mem.utxo().entries());
    Ok(())
}

/// Batches taken but never reported stored: the loaded chain's memory keeps every change
/// (it grows with each block) and every read stays right; one report lets it all go.
#[test]
fn batches_never_reported_stored_cost_memory_not_correctness() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::create(&dir.path().join("chain.db"))?;
    let alice = KeyPair::generate(&mut OsRng);
    let mut mem = chain_paying(alice.pubkey_hash())?;
    store.apply(&[mem.take_changes()])?;
    let mut disk = load(&store)?;
    let mut held = Vec::new();
    let mut last = 0;
    for i in 0..5u8 {
        let tip = disk.body_at(disk.height()).ok_or("tip")?;
        let coin = coinbase_of(&tip);
        let tx = pay_all(&disk, &alice, coin, alice.pubkey_hash())?;
        let b = block_on(&mem, alice.pubkey_hash(), vec![tx], &[i])?;
        assert_eq!(accept_all(&mut [&mut mem, &mut disk], &b)?, [true, true]);
        let c = disk.take_changes();
        store.apply(std::slice::from_ref(&c))?;
        last = c.batch;
        held.push(disk.utxo().held_in_memory());
        same(&mem, &disk, &[&alice]);
    }
    assert!(held.windows(2).all(|w| w[0] < w[1]), "{held:?}");
    disk.stored(last);
    assert_eq!(disk.utxo().held_in_memory(), 0);
    same(&mem, &disk, &[&alice]);
    Ok(())
}

/// Overwrites the value of the first row of the file's coin table with garbage; returns the
/// coin's key.
fn damage_a_coin_row(path: &Path) -> TestResult<Vec<u8>> {
    let db = redb::Database::open(path)?;
    let txn = db.begin_write()?;
    let key = {
        let mut table = txn.open_table(UTXO)?;
        let key = {
            let mut rows = table.iter()?;
            let (k, _) = rows.next().ok_or("no coin is stored")??;
            k.value().to_vec()
        };
        table.insert(key.as_slice(), [0xffu8; 7].as_slice())?;
        key
    };
    txn.commit()?;
    Ok(key)
}

/// A coin row damaged in the file (the store cannot be written by a second handle while a
/// node runs: redb locks it, so the damage is done between two runs). Loading refuses the
/// file, naming the row; and a coin read that fails — reached here through the store's
/// coin source, as a running chain would read it — answers "absent" but marks the store
/// unreadable, and every later write is refused, so nothing judged on that answer is kept.
#[test]
fn a_damaged_coin_row_is_refused_at_load_and_a_failed_read_stops_every_write() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("chain.db");
    let alice = KeyPair::generate(&mut OsRng);
    let mut mem = chain_paying(alice.pubkey_hash())?;
    {
        let store = Store::create(&path)?;
        store.apply(&[mem.take_changes()])?;
        let b = block_on(&mem, alice.pubkey_hash(), vec![], b"1")?;
        accept_all(&mut [&mut mem], &b)?;
        store.apply(&[mem.take_changes()])?;
    }
    // A second handle on a file a store holds open is refused: no damage while it runs.
    {
        let _open = Store::open(&path)?;
        assert!(
            redb::Database::open(&path).is_err(),
            "redb lets a second writer in"
        );
    }
    let key = damage_a_coin_row(&path)?;

    let store = Store::open(&path)?;
    match store.load_chain(ChainParams::default()) {
        Err(StoreError::Corrupt { what, .. }) => {
            assert!(what.contains("UTXO entry does not decode"), "{what}");
        }
        other => panic!(
            "a damaged coin row was loaded: {:?}",
            other.map(|c| c.is_some())
        ),
    }

    let coins = Arc::new(store.coins());
    let txid = node_core::Txid::from_hash(node_core::Hash256(
        key[..32].try_into().map_err(|_| "a key of 36 bytes")?,
    ));
    let vout = u32::from_be_bytes(key[32..36].try_into().map_err(|_| "a key of 36 bytes")?);
    let damaged = OutPoint { txid, vout };
    // Writes still work before any read failed.
    store.apply(&[ChainChanges::default()])?;
    assert_eq!(coins.coin(&damaged), None, "a failed read answers absent");
    match store.apply(&[ChainChanges {
        tip: Some(mem.tip()),
        ..ChainChanges::default()
    }]) {
        Err(e @ StoreError::Unreadable { .. }) => {
            assert!(e.to_string().contains("does not decode"), "{e}");
        }
        other => panic!("a write after a failed coin read was accepted: {other:?}"),
    }
    Ok(())
}

/// The command line, one process per step, each loading the set over the file and writing
/// its changes: payments back and forth mined by `send --mine`, balances read between them.
/// What the file's set then holds is what `reindexutxo` rebuilds from the blocks alone —
/// the same digest and balances — and every coin mined is held by one of the two wallets.
#[test]
fn cli_payments_over_the_stored_set_match_what_reindexutxo_rebuilds() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let a = common::new_address(dir, "3000");
    let b = common::new_address(dir, "3000");
    common::create_chain(dir, "3000", &a);
    for (from, to, amount) in [
        (&a, &b, 3),
        (&b, &a, 1),
        (&a, &b, 4),
        (&b, &a, 5),
        (&a, &b, 2),
    ] {
        let before = common::balance(dir, "3000", to);
        common::send_mined(dir, "3000", from, to, amount);
        assert!(common::balance(dir, "3000", to) >= before + amount);
    }
    let (digest, height, tip) = common::utxo_digest(dir, "3000");
    let (ba, bb) = (
        common::balance(dir, "3000", &a),
        common::balance(dir, "3000", &b),
    );
    assert_eq!(
        ba + bb,
        10 * (height + 1),
        "every coin mined is held, no more"
    );
    common::ok(dir, "3000", &["reindexutxo"]);
    assert_eq!(common::utxo_digest(dir, "3000"), (digest, height, tip));
    assert_eq!(common::balance(dir, "3000", &a), ba);
    assert_eq!(common::balance(dir, "3000", &b), bb);
    let printed = common::ok(dir, "3000", &["printchain"]);
    assert!(printed.contains(&format!("Height: {height}")), "{printed}");
}

/// A chain loaded from its file and running: the chain, the same chain in memory, the
/// store, the coins the chain mined and the file's directory (kept alive).
struct Running {
    mem: Chain,
    disk: Chain,
    store: Store,
    coins: Vec<OutPoint>,
    alice: KeyPair,
    bob: KeyPair,
    dir: tempfile::TempDir,
}

/// 60 mined coins and, beside them, worthless coins that fill more than redb's page cache
/// (so some reads after a damage reach the file; they mint nothing, the load accepts them);
/// the chain is loaded, then another program overwrites the whole file with garbage (redb's
/// lock keeps out a second database handle, not a plain write to the file).
fn running_over_an_overwritten_file() -> TestResult<Running> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("chain.db");
    let alice = KeyPair::generate(&mut OsRng);
    let bob = KeyPair::generate(&mut OsRng);
    let mut mem = chain_paying(alice.pubkey_hash())?;
    let store = Store::create(&path)?;
    store.apply(&[mem.take_changes()])?;
    let mut coins = Vec::new();
    for i in 0..60u16 {
        let b = block_on(&mem, alice.pubkey_hash(), vec![], &i.to_le_bytes())?;
        coins.push(coinbase_of(&b));
        accept_all(&mut [&mut mem], &b)?;
    }
    store.apply(&[mem.take_changes()])?;
    let dust: Vec<_> = (0..DUST_COINS)
        .map(|i| {
            let txid =
                node_core::Txid::from_hash(node_core::primitives::hash::sha256(&i.to_le_bytes()));
            let entry = node_core::UtxoEntry {
                output: TxOut {
                    value: 0,
                    pubkey_hash: bob.pubkey_hash(),
                },
                height: 1,
                coinbase: false,
            };
            (OutPoint { txid, vout: 0 }, Some(entry))
        })
        .collect();
    store.apply(&[ChainChanges {
        utxo: dust,
        ..ChainChanges::default()
    }])?;
    let disk = load(&store)?;
    let len = std::fs::metadata(&path)?.len();
    let garbage: Vec<u8> = (0..len).map(|i| (i as u8) ^ 0x5a).collect();
    std::fs::write(&path, garbage)?;
    Ok(Running {
        mem,
        disk,
        store,
        coins,
        alice,
        bob,
        dir,
    })
}

/// The chain file overwritten while a loaded chain runs: every coin the chain reads is
/// either the right one (from what redb cached) or the read fails — and then the block
/// judged on it is not written, nor anything after: never a wrong coin with the store
/// still taking writes. The next start refuses the file or finds the same chain.
#[test]
fn a_chain_file_overwritten_while_a_chain_runs_never_yields_a_wrong_coin_that_is_written(
) -> TestResult {
    let Running {
        mut mem,
        mut disk,
        store,
        coins,
        alice,
        bob,
        dir,
    } = running_over_an_overwritten_file()?;
    let wrong = coins
        .iter()
        .filter(|op| disk.utxo().get(op) != mem.utxo().get(op))
        .count();
    let tx = pay_all(&mem, &alice, coins[0], bob.pubkey_hash())?;
    let b = block_on(&mem, alice.pubkey_hash(), vec![tx], b"after")?;
    let judged = accept_all(&mut [&mut mem, &mut disk], &b)?;
    let written = store.persist(&mut disk);
    if wrong > 0 || judged[0] != judged[1] {
        assert!(
            matches!(written, Err(StoreError::Unreadable { .. })),
            "{wrong} coins read wrong and the write went on: {written:?}"
        );
    } else if written.is_ok() {
        same(&mem, &disk, &[&alice, &bob]);
    }
    // Closing a store on a damaged file may panic inside redb (see the next test).
    let closed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop((disk, store))));
    drop(closed);
    let reloaded = Store::open(&dir.path().join("chain.db"))
        .and_then(|s| s.load_chain(ChainParams::default()));
    if let Ok(Some(c)) = reloaded {
        same(&mem, &c, &[&alice, &bob]);
    }
    Ok(())
}

/// The same damage, then the relay stops: closing the store must not panic (the relay's
/// shutdown after `StoreError::Unreadable` should end with that one error line).
#[test]
fn a_store_whose_file_was_damaged_while_open_closes_without_a_panic() -> TestResult {
    let Running {
        disk, store, coins, ..
    } = running_over_an_overwritten_file()?;
    // The running chain reads its coins (some reads fail on the garbage).
    let read = coins
        .iter()
        .filter(|op| disk.utxo().get(op).is_some())
        .count();
    assert!(read < coins.len(), "every read was served from the cache");
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        drop((disk, store));
    }));
    assert!(closed.is_ok(), "closing the damaged store panicked");
    Ok(())
}
