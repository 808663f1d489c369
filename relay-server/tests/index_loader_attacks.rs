//! Attacks on the relay's block-index loader: the `headers` rows of a chain file, damaged
//! or edited, read back at start (`Store::load_chain`, `BlockIndex::linked_from`,
//! `Chain::from_stored_index`). Whatever the rows say — cycles, two genesis blocks, heights
//! at the edges of u32 and u64, a tip off the active chain or nowhere, a flood of rows
//! that link to nothing — the load refuses the file in one line or drops the rows that do
//! not link, never panics or loops, and the chain it loads is exactly the linked chain from
//! genesis to the stored tip.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use node_core::chain::{mine_genesis, BlockEntry, BlockIndex};
use node_core::consensus::pow;
use node_core::primitives::block::BlockHeader;
use node_core::primitives::codec;
use node_core::{Block, BlockHash, Chain, ChainParams, PubKeyHash, Transaction};
use redb::{ReadableTable, TableDefinition};
use relay_server::store::{Store, StoreError};

/// The store's `headers` table: block hash → postcard (header, height, cumulative work).
const HEADERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("headers");
/// The store's `meta` table, whose `tip` names the active tip.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Test outcome: a failed step is an error naming it, not a panic.
type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// One `headers` row as the store encodes it.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Row {
    header: BlockHeader,
    height: u64,
    chain_work: u128,
}

/// Node 3000's chain file in a temp directory, and the chain written to it.
struct ChainFile {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    path: PathBuf,
    chain: Chain,
}

fn mine_on(c: &mut Chain, to: u8) -> TestResult {
    let now = c.entry(&c.tip()).map_or(0, |e| e.timestamp) + 1000;
    let mut b = c.template(PubKeyHash([to; 20]), vec![], 0, now, b"");
    pow::mine(&mut b.header).ok_or("not mined")?;
    c.accept_block(b, now)?;
    Ok(())
}

/// A block on `parent` (at `height` - 1) that is not on the active chain.
fn side_block(c: &Chain, parent: BlockHash, height: u64, tag: u8) -> TestResult<Block> {
    let now = c.entry(&c.tip()).map_or(0, |e| e.timestamp) + 1000 + u64::from(tag);
    let coinbase = Transaction::new_coinbase(height, PubKeyHash([99; 20]), 10, &[tag]);
    let mut side = Block::new_template(parent, now, c.bits(), vec![coinbase]);
    pow::mine(&mut side.header).ok_or("not mined")?;
    Ok(side)
}

/// A chain of `n` blocks after genesis and a one-block side branch at height 2, every
/// change written to node 3000's file.
fn chain_file(n: u8) -> TestResult<ChainFile> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("blockchain_3000.db");
    let genesis = mine_genesis(PubKeyHash([1; 20]), 10, 1_700_000_000_000, 4, b"g");
    let mut c = Chain::new(ChainParams::default(), genesis, 1_700_000_000_000)?;
    let store = Store::create(&path)?;
    store.apply(&[c.take_changes()])?;
    for i in 0..n {
        mine_on(&mut c, i)?;
        store.apply(&[c.take_changes()])?;
    }
    let parent = c.hash_at(1).ok_or("no block 1")?;
    let side = side_block(&c, parent, 2, 0)?;
    let now = side.header.timestamp;
    c.accept_block(side, now)?;
    store.apply(&[c.take_changes()])?;
    Ok(ChainFile {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        path,
        chain: c,
    })
}

impl ChainFile {
    /// Every row of the file, by hash.
    fn rows(&self) -> TestResult<HashMap<BlockHash, Row>> {
        let db = redb::Database::open(&self.path)?;
        let txn = db.begin_read()?;
        let table = txn.open_table(HEADERS)?;
        let mut out = HashMap::new();
        for row in table.iter()? {
            let (_, v) = row?;
            let r: Row = codec::decode(v.value(), 256)?;
            out.insert(r.header.hash(), r);
        }
        Ok(out)
    }

    fn row(&self, hash: &BlockHash) -> TestResult<Row> {
        Ok(*self.rows()?.get(hash).ok_or("no such row")?)
    }

    /// Writes rows under the keys given, as an editor of the file would.
    fn put_rows(&self, rows: &[(Vec<u8>, Row)]) -> TestResult {
        let db = redb::Database::open(&self.path)?;
        let txn = db.begin_write()?;
        {
            let mut table = txn.open_table(HEADERS)?;
            for (key, row) in rows {
                table.insert(key.as_slice(), codec::encode(row).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Writes `row` under its own hash.
    fn put(&self, row: Row) -> TestResult<BlockHash> {
        let hash = row.header.hash();
        self.put_rows(&[(hash.as_bytes().to_vec(), row)])?;
        Ok(hash)
    }

    fn remove_row(&self, hash: &BlockHash) -> TestResult {
        let db = redb::Database::open(&self.path)?;
        let txn = db.begin_write()?;
        txn.open_table(HEADERS)?
            .remove(hash.as_bytes().as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn set_tip(&self, tip: &[u8]) -> TestResult {
        let db = redb::Database::open(&self.path)?;
        let txn = db.begin_write()?;
        txn.open_table(META)?.insert("tip", tip)?;
        txn.commit()?;
        Ok(())
    }

    fn load(&self) -> Result<Option<Chain>, StoreError> {
        Store::open(&self.path)?.load_chain(ChainParams::default())
    }

    /// The load's refusal: the file is corrupt, said in one line.
    fn refusal(&self) -> TestResult<String> {
        match self.load() {
            Err(e @ StoreError::Corrupt { .. }) => {
                let said = e.to_string();
                assert_eq!(said.lines().count(), 1, "{said}");
                Ok(said)
            }
            Err(e) => Err(format!("refused, but not as corrupt: {e}").into()),
            Ok(c) => Err(format!("loaded, at height {}", c.map_or(0, |c| c.height())).into()),
        }
    }

    /// The file's side block at height 2 (every chain file has one).
    fn side_block_at_2(&self) -> TestResult<BlockHash> {
        let side = self
            .chain
            .entries()
            .find(|(h, e)| e.height == 2 && self.chain.hash_at(2) != Some(*h))
            .map(|(h, _)| h)
            .ok_or("no side block")?;
        Ok(side)
    }

    /// Loads, and checks the chain is the one written: same tip, same blocks.
    fn loads_the_honest_chain(&self) -> TestResult<Chain> {
        let loaded = self.load()?.ok_or("no tip was stored")?;
        assert_eq!(loaded.tip(), self.chain.tip());
        assert_active_chain_is(&loaded, &active_chain(&self.chain))?;
        assert_eq!(loaded.utxo().digest(), self.chain.utxo().digest());
        Ok(loaded)
    }
}

/// `c`'s active chain, genesis first.
fn active_chain(c: &Chain) -> Vec<BlockHash> {
    (0..=c.height()).filter_map(|h| c.hash_at(h)).collect()
}

/// The loaded chain's active chain is `expected`, and each of its blocks names the one
/// before it as its parent with heights one apart: the linked chain from genesis.
fn assert_active_chain_is(loaded: &Chain, expected: &[BlockHash]) -> TestResult {
    assert_eq!(active_chain(loaded), expected);
    for pair in expected.windows(2) {
        let child = loaded
            .entry(&pair[1])
            .ok_or("an active block is not indexed")?;
        let parent = loaded
            .entry(&pair[0])
            .ok_or("an active block is not indexed")?;
        assert_eq!(child.prev, pair[0]);
        assert_eq!(child.height, parent.height + 1);
    }
    Ok(())
}

/// A made-up child row of `parent` (its height and work one block on), not mined and
/// with no body; `salt` makes its hash differ.
fn child_row(parent: &Row, salt: u64) -> Row {
    let mut header = parent.header;
    header.prev = parent.header.hash();
    header.timestamp = parent.header.timestamp + 1_000 + salt;
    Row {
        header,
        height: parent.height + 1,
        chain_work: parent.chain_work + pow::work(header.bits),
    }
}

#[test]
fn a_cycle_of_rows_cannot_be_stored_because_a_blocks_hash_commits_to_its_parent() -> TestResult {
    let file = chain_file(6)?;
    let a = file.chain.hash_at(3).ok_or("no block 3")?;
    let b = file.chain.hash_at(4).ok_or("no block 4")?;
    // The editor makes block 3's parent block 4 and block 4's parent block 3, each row
    // kept under its block's key, hoping the load walks A → B → A forever.
    let (mut ra, mut rb) = (file.row(&a)?, file.row(&b)?);
    ra.header.prev = b;
    rb.header.prev = a;
    file.put_rows(&[(a.as_bytes().to_vec(), ra), (b.as_bytes().to_vec(), rb)])?;
    let said = file.refusal()?;
    assert!(said.contains("stored under another hash"), "{said}");

    // A row naming itself as its parent is the same edit, one row long.
    let file = chain_file(6)?;
    let mut rs = file.row(&a)?;
    rs.header.prev = a;
    file.put_rows(&[(a.as_bytes().to_vec(), rs)])?;
    let said = file.refusal()?;
    assert!(said.contains("stored under another hash"), "{said}");

    // Stored under their new hashes instead, the edited rows cannot close the loop: A'
    // names B, B' names A', and B (the real one) still names A. They load as a side branch
    // hanging off B, and the honest chain loads as it was.
    let file = chain_file(6)?;
    let mut ra = file.row(&a)?;
    ra.header.prev = b;
    ra.height = 5;
    ra.chain_work = file.row(&b)?.chain_work + pow::work(ra.header.bits);
    let a2 = file.put(ra)?;
    let mut rb = file.row(&b)?;
    rb.header.prev = a2;
    rb.height = 6;
    rb.chain_work = ra.chain_work + pow::work(rb.header.bits);
    let b2 = file.put(rb)?;
    let loaded = file.loads_the_honest_chain()?;
    for (child, parent) in [(b2, a2), (a2, b), (b, a)] {
        let (c, p) = (
            loaded.entry(&child).ok_or("not indexed")?,
            loaded.entry(&parent).ok_or("not indexed")?,
        );
        assert_eq!((c.prev, c.height), (parent, p.height + 1));
    }
    Ok(())
}

#[test]
fn rows_claiming_heights_at_the_edges_of_u32_and_u64_are_refused_or_dropped_never_wrapped(
) -> TestResult {
    let edges = [
        u64::from(u32::MAX) - 1,
        u64::from(u32::MAX),
        1 << 32,
        (1 << 32) + 3,
        u64::MAX - 1,
        u64::MAX,
    ];
    for height in edges {
        // On the active chain (block 3, work to match): the tip no longer links.
        let file = chain_file(6)?;
        let mid = file.chain.hash_at(3).ok_or("no block 3")?;
        let mut row = file.row(&mid)?;
        row.height = height;
        row.chain_work = pow::work(row.header.bits).saturating_mul(u128::from(height) + 1);
        file.put_rows(&[(mid.as_bytes().to_vec(), row)])?;
        file.refusal()
            .map_err(|e| format!("block 3 at height {height}: {e}"))?;

        // A side row and a made-up child of the tip claiming it: dropped.
        let file = chain_file(6)?;
        let side = file.side_block_at_2()?;
        let mut row = file.row(&side)?;
        row.height = height;
        file.put_rows(&[(side.as_bytes().to_vec(), row)])?;
        let mut child = child_row(&file.row(&file.chain.tip())?, 0);
        child.height = height;
        child.chain_work = u128::MAX;
        let child = file.put(child)?;
        let loaded = file
            .loads_the_honest_chain()
            .map_err(|e| format!("side rows at height {height}: {e}"))?;
        assert!(!loaded.contains(&side) && !loaded.contains(&child));
    }
    Ok(())
}

#[test]
fn a_second_parentless_row_is_refused_in_one_line_whatever_its_bits_or_place() -> TestResult {
    // Another genesis at the network's bits and at easier ones; the editor tries salts
    // until one sorts before the real genesis and one after it (rows are read in key
    // order, and whichever comes first used to fix one block's work for the index).
    let real = chain_file(3)?.chain.genesis_hash();
    let mut placed = [false; 2];
    for salt in 0u8..64 {
        for bits in [4, 1] {
            let other = mine_genesis(PubKeyHash([7; 20]), 10, 1_700_000_000_001, bits, &[salt]);
            let before = other.hash() < real;
            if placed[usize::from(before)] && bits == 4 {
                continue;
            }
            placed[usize::from(before)] = true;
            let file = chain_file(3)?;
            file.put(Row {
                header: other.header,
                height: 0,
                chain_work: pow::work(other.header.bits),
            })?;
            let said = file
                .refusal()
                .map_err(|e| format!("bits {bits}, before genesis {before}: {e}"))?;
            assert!(
                said.contains("two genesis blocks"),
                "bits {bits}, before genesis {before}: {said}"
            );
        }
        if placed == [true, true] {
            return Ok(());
        }
    }
    Err("no salt placed the second genesis on both sides".into())
}

#[test]
fn a_row_of_height_zero_that_has_a_parent_does_not_choose_the_networks_bits() -> TestResult {
    // A made-up child of the tip claiming height 0 at the easiest bits, under a key that
    // sorts after genesis's: the network's bits were taken from the last row of height 0
    // read, so every honest row then failed its work check and the file was refused.
    let file = chain_file(6)?;
    let genesis = file.chain.genesis_hash();
    let tip = file.row(&file.chain.tip())?;
    let mut salt = 0;
    let forged = loop {
        let mut row = child_row(&tip, salt);
        row.header.bits = 1;
        row.height = 0;
        row.chain_work = pow::work(1);
        if row.header.hash() > genesis {
            break row;
        }
        salt += 1;
    };
    let forged = file.put(forged)?;
    let loaded = file.loads_the_honest_chain()?;
    assert!(!loaded.contains(&forged));
    Ok(())
}

#[test]
fn a_stored_tip_moved_to_a_branch_fork_choice_does_not_prefer_loads_the_preferred_chain(
) -> TestResult {
    // A second branch from block 1 as long as the active chain (equal work: one of the
    // two is active, by the hash tie-break), all of it real blocks with bodies. The editor
    // points the tip at the end of whichever branch is not active, hoping the relay serves
    // that branch over coins of the other.
    let mut file = chain_file(4)?;
    let first = active_chain(&file.chain);
    let store = Store::open(&file.path)?;
    let mut parent = first[1];
    let mut second = first[..2].to_vec();
    for height in 2..=4 {
        let b = side_block(&file.chain, parent, height, 50 + height as u8)?;
        parent = b.hash();
        second.push(parent);
        let now = b.header.timestamp;
        file.chain.accept_block(b, now)?;
        store.apply(&[file.chain.take_changes()])?;
    }
    drop(store);
    let aside = if file.chain.tip() == parent {
        first
    } else {
        second
    };
    let aside_tip = *aside.last().ok_or("empty branch")?;
    assert_ne!(file.chain.tip(), aside_tip);
    file.set_tip(aside_tip.as_bytes())?;
    // The load links genesis to the stored tip, then follows fork choice back to the
    // branch it prefers, whose coins the file holds.
    let loaded = file.loads_the_honest_chain()?;
    assert!(
        loaded.contains(&aside_tip),
        "the other branch stays indexed"
    );

    // A tip on the one-block side branch at height 2 the same: the load moves to the
    // heavier active chain the file's coins belong to.
    let file = chain_file(6)?;
    let side = file.side_block_at_2()?;
    file.set_tip(side.as_bytes())?;
    file.loads_the_honest_chain()?;
    Ok(())
}

#[test]
fn a_tip_that_is_not_indexed_or_has_no_body_is_refused_in_one_line() -> TestResult {
    let file = chain_file(6)?;
    // A tip no row names (nor any body).
    file.set_tip(&[0x5A; 32])?;
    let said = file.refusal()?;
    assert!(said.contains("tip block's body is not stored"), "{said}");
    // A tip of the wrong length.
    file.set_tip(&[0x5A; 31])?;
    let said = file.refusal()?;
    assert!(said.contains("tip is not 32 bytes"), "{said}");
    // A tip whose row and body are there but whose parent's row is gone: said as such,
    // not as a tip that is missing.
    let file = chain_file(6)?;
    file.remove_row(&file.chain.hash_at(5).ok_or("no block 5")?)?;
    let said = file.refusal()?;
    assert!(said.contains("not linked to genesis"), "{said}");
    // A made-up tip row that links (height and work one on) but has no body (nor proof
    // of work): the relay loaded it as its tip, a block it could neither serve nor build
    // on, and announced its height.
    let file = chain_file(6)?;
    let forged = file.put(child_row(&file.row(&file.chain.tip())?, 0))?;
    file.set_tip(forged.as_bytes())?;
    let said = file.refusal()?;
    assert!(said.contains("body is not stored"), "{said}");
    Ok(())
}

#[test]
fn fifty_thousand_rows_that_link_to_nothing_are_dropped_and_the_chain_loads() -> TestResult {
    let file = chain_file(6)?;
    let tip = file.row(&file.chain.tip())?;
    // Rows naming parents nobody has, each claiming a height and work just above the
    // tip's, and rows chained under them; none reaches genesis.
    let mut rows = Vec::new();
    let mut above = None;
    for salt in 0..50_000u64 {
        let mut row = child_row(&tip, salt);
        row.header.prev = match above {
            Some(h) if salt % 2 == 1 => h,
            _ => phantom(salt),
        };
        row.height = tip.height + 1 + salt % 2;
        row.chain_work = tip.chain_work + pow::work(row.header.bits) * (1 + u128::from(salt % 2));
        above = Some(row.header.hash());
        rows.push((row.header.hash().as_bytes().to_vec(), row));
    }
    file.put_rows(&rows)?;
    let loaded = file.loads_the_honest_chain()?;
    assert_eq!(loaded.entries().count(), file.chain.entries().count());
    Ok(())
}

/// A hash no block has.
fn phantom(n: u64) -> BlockHash {
    let mut b = [0xC3u8; 32];
    b[..8].copy_from_slice(&n.to_be_bytes());
    BlockHash::from_hash(node_core::Hash256(b))
}

#[test]
fn a_long_linked_side_branch_without_bodies_loads_once_and_stays_aside() -> TestResult {
    // Twenty thousand rows, each one above its parent with its work, hanging off block 1:
    // far heavier than the active chain, but made up (no body, no proof of work). The
    // load walks each once and keeps the stored tip.
    let file = chain_file(6)?;
    let mut parent = file.row(&file.chain.hash_at(1).ok_or("no block 1")?)?;
    let mut rows = Vec::new();
    for salt in 0..20_000u64 {
        let row = child_row(&parent, salt % 3);
        rows.push((row.header.hash().as_bytes().to_vec(), row));
        parent = row;
    }
    file.put_rows(&rows)?;
    file.loads_the_honest_chain()?;
    Ok(())
}

#[test]
fn a_gap_in_a_side_branchs_heights_drops_the_rows_above_it_and_keeps_those_below() -> TestResult {
    let file = chain_file(6)?;
    let side = file.side_block_at_2()?;
    let below = file.row(&side)?;
    // Two made-up rows on the side block: the first skips a height (work to match), the
    // second is one above the first.
    let mut gap = child_row(&below, 0);
    gap.height += 2;
    gap.chain_work += 2 * pow::work(gap.header.bits);
    let gap_hash = file.put(gap)?;
    let above = file.put(child_row(&gap, 0))?;
    let loaded = file.loads_the_honest_chain()?;
    assert!(loaded.contains(&side), "the honest side block below stays");
    assert!(!loaded.contains(&gap_hash) && !loaded.contains(&above));

    // On the active chain the same edit (block 3 two above block 2) refuses the file.
    let file = chain_file(6)?;
    let mid = file.chain.hash_at(3).ok_or("no block 3")?;
    let mut row = file.row(&mid)?;
    row.height += 2;
    row.chain_work += 2 * pow::work(row.header.bits);
    file.put_rows(&[(mid.as_bytes().to_vec(), row)])?;
    file.refusal()?;
    // And so does block 3 claiming to be below its parent.
    let file = chain_file(6)?;
    let mut row = file.row(&mid)?;
    row.height = 1;
    row.chain_work = 2 * pow::work(row.header.bits);
    file.put_rows(&[(mid.as_bytes().to_vec(), row)])?;
    file.refusal()?;
    Ok(())
}

#[test]
fn printchain_on_a_file_with_two_genesis_rows_says_so_in_one_line() -> TestResult {
    let file = chain_file(3)?;
    let other = mine_genesis(PubKeyHash([7; 20]), 10, 1_700_000_000_001, 4, b"other");
    file.put(Row {
        header: other.header,
        height: 0,
        chain_work: pow::work(other.header.bits),
    })?;
    let line = common::fails(&file.dir, "3000", &["printchain"]);
    assert!(line.starts_with("error: "), "{line}");
    assert!(
        line.contains("corrupt") && line.contains("reindexutxo"),
        "{line}"
    );
    Ok(())
}

/// The index built from rows in any order holds a tree rooted at genesis: every entry's
/// parent is indexed one height below it, so walking parents from any entry ends at
/// genesis within its height's steps.
fn assert_is_a_tree(index: &BlockIndex) {
    for (hash, entry) in index.iter() {
        let mut cursor = (hash, entry);
        for _ in 0..=entry.height {
            if cursor.1.height == 0 {
                break;
            }
            let parent = index
                .get(&cursor.1.prev)
                .unwrap_or_else(|| panic!("{} names a parent not indexed", cursor.0));
            assert_eq!(
                parent.height + 1,
                cursor.1.height,
                "{} is not one above its parent",
                cursor.0
            );
            cursor = (cursor.1.prev, parent);
        }
        assert_eq!(cursor.1.height, 0, "walking down from {hash} loops");
        assert_eq!(cursor.1.prev, BlockHash::ZERO);
    }
}

fn test_hash(n: u8) -> BlockHash {
    BlockHash::from_hash(node_core::Hash256([n; 32]))
}

fn entry(height: u64, prev: BlockHash) -> BlockEntry {
    const WORK: u128 = 1 << 20;
    BlockEntry {
        height,
        chain_work: WORK * (u128::from(height) + 1),
        prev,
        timestamp: height,
    }
}

#[test]
fn two_rows_of_one_hash_do_not_turn_the_index_into_a_cycle() {
    // The redb file keys rows by hash, so it cannot hold two rows of one block; a caller
    // handing `linked_from` rows from anywhere else can. X is under genesis at height 1,
    // Y under X; a second row of X claims height 3 under Y. Indexed parents first, that
    // second row found Y indexed and replaced X: X's parent became Y and Y's X.
    let (g, x, y) = (test_hash(1), test_hash(2), test_hash(3));
    let rows = vec![
        (g, entry(0, BlockHash::ZERO)),
        (x, entry(1, g)),
        (y, entry(2, x)),
        (x, entry(3, y)),
    ];
    let (index, dropped) = BlockIndex::linked_from(rows);
    assert_is_a_tree(&index);
    assert_eq!((index.len(), dropped), (3, 1));
    assert_eq!(index.get(&x).map(|e| (e.height, e.prev)), Some((1, g)));

    // A second row of X naming X itself as its parent.
    let rows = vec![
        (g, entry(0, BlockHash::ZERO)),
        (x, entry(1, g)),
        (x, entry(2, x)),
    ];
    let (index, dropped) = BlockIndex::linked_from(rows);
    assert_is_a_tree(&index);
    assert_eq!((index.len(), dropped), (2, 1));
}
