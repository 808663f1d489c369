//! The `headers` table: every stored block's header with its height and cumulative work,
//! so that start-up builds the block index from these rows alone, without reading a body,
//! holding the headers in a map or replaying the chain (Bitcoin Core's block index keeps
//! the same two numbers per block).
//!
//! A row is positioned when written: one above its parent's row, with the parent's work
//! plus its own. Blocks arrive parent first; a batch that lists a child before its parent
//! (a snapshot in hash order) is positioned once the whole transaction's blocks are in.
//! The load checks every link again ([`node_core::Chain::from_stored_index`]).

use std::collections::{HashMap, VecDeque};

use node_core::consensus::pow;
use node_core::primitives::block::BlockHeader;
use node_core::primitives::codec;
use node_core::{Block, BlockHash};
use redb::{ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{BLOCKS, HEADERS};

/// Bytes a stored row may decode from (an 88-byte header, two varints; postcard makes it a
/// little less or more).
pub(super) const HEADER_ROW_LIMIT: usize = 256;

/// A redb failure, boxed (it is large, and travels by value).
type DbResult<T> = Result<T, Box<redb::Error>>;

fn db(e: impl Into<redb::Error>) -> Box<redb::Error> {
    Box::new(e.into())
}

/// One row of the `headers` table (schema 3).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct HeaderRow {
    /// The block's header.
    pub header: BlockHeader,
    /// Distance from genesis.
    pub height: u64,
    /// Work of the block and all its ancestors.
    pub chain_work: u128,
}

/// The row of `hash` in `table`, if it is stored and decodes.
fn row_of(table: &Table<&[u8], &[u8]>, hash: &BlockHash) -> DbResult<Option<HeaderRow>> {
    Ok(table
        .get(hash.as_bytes().as_slice())
        .map_err(db)?
        .and_then(|v| codec::decode(v.value(), HEADER_ROW_LIMIT).ok()))
}

/// Writes the rows of `pending` (hash, header) whose parent has a row (or that are a
/// genesis), parents before children; blocks whose `blocks` row is gone (removed later in
/// the same transaction) are skipped, and so are those without a positioned parent (a
/// load would not reach them; `reindexutxo` still reads their bodies). Returns how many
/// rows were written.
pub(super) fn position(
    txn: &WriteTransaction,
    pending: Vec<(BlockHash, BlockHeader)>,
) -> DbResult<usize> {
    if pending.is_empty() {
        return Ok(0);
    }
    let blocks = txn.open_table(BLOCKS).map_err(db)?;
    let mut headers = txn.open_table(HEADERS).map_err(db)?;
    let mut children: HashMap<BlockHash, Vec<(BlockHash, BlockHeader)>> = HashMap::new();
    // Each queued block carries its height and its parent's work: read from the parent's
    // row once here, or taken from the row just written for a parent in this batch.
    let mut queue = VecDeque::new();
    for (hash, header) in pending {
        let placed = if header.prev == BlockHash::ZERO {
            Some((0, 0))
        } else {
            row_of(&headers, &header.prev)?.map(|p| (p.height + 1, p.chain_work))
        };
        match placed {
            Some(at) => queue.push_back((hash, header, at)),
            None => children
                .entry(header.prev)
                .or_default()
                .push((hash, header)),
        }
    }
    let mut written = 0;
    while let Some((hash, header, (height, parent_work))) = queue.pop_front() {
        if blocks
            .get(hash.as_bytes().as_slice())
            .map_err(db)?
            .is_none()
        {
            continue;
        }
        let row = HeaderRow {
            header,
            height,
            chain_work: parent_work.saturating_add(pow::work(header.bits)),
        };
        headers
            .insert(hash.as_bytes().as_slice(), codec::encode(&row).as_slice())
            .map_err(db)?;
        written += 1;
        let at = (height + 1, row.chain_work);
        for (child, child_header) in children.remove(&hash).unwrap_or_default() {
            queue.push_back((child, child_header, at));
        }
    }
    Ok(written)
}

/// Where [`rebuild`] takes every block's header from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeaderSource {
    /// The `headers` rows of schema 2: a bare postcard `BlockHeader` each.
    BareHeaders,
    /// The block bodies (schema 1 had no `headers` table; a rebuild trusts only bodies).
    Blocks,
}

/// Rewrites the whole `headers` table, every row positioned, from `source`: the one-time
/// upgrade of an older file, and the end of `reindexutxo`. Rows that do not decode are
/// left out (`reindexutxo` drops their blocks). Holds every header in memory once, in the
/// transaction that upgrades; the starts after it read only the rows.
pub(super) fn rebuild(txn: &WriteTransaction, source: HeaderSource) -> DbResult<usize> {
    let mut all = Vec::new();
    match source {
        HeaderSource::BareHeaders => {
            let headers = txn.open_table(HEADERS).map_err(db)?;
            for row in headers.iter().map_err(db)? {
                let (k, v) = row.map_err(db)?;
                let header: Option<BlockHeader> = codec::decode(v.value(), HEADER_ROW_LIMIT).ok();
                if let Some(header) = header.filter(|h| h.hash().as_bytes() == k.value()) {
                    all.push((header.hash(), header));
                }
            }
        }
        HeaderSource::Blocks => {
            let blocks = txn.open_table(BLOCKS).map_err(db)?;
            for row in blocks.iter().map_err(db)? {
                let (k, v) = row.map_err(db)?;
                if let Ok(b) = Block::decode(v.value()) {
                    if b.hash().as_bytes() == k.value() {
                        all.push((b.hash(), b.header));
                    }
                }
            }
        }
    }
    txn.delete_table(HEADERS).map_err(db)?;
    position(txn, all)
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreError, META, META_SCHEMA, SCHEMA_VERSION};
    use super::*;
    use node_core::chain::mine_genesis;
    use node_core::{Chain, ChainParams, PubKeyHash};

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    /// A chain of `n` blocks after genesis and a one-block side branch at height 2, every
    /// change written to a new file at `path`.
    fn stored_chain(path: &std::path::Path, n: u8) -> TestResult<(Store, Chain)> {
        let genesis = mine_genesis(PubKeyHash([1; 20]), 10, 1_700_000_000_000, 4, b"g");
        let mut c = Chain::new(ChainParams::default(), genesis, 1_700_000_000_000)?;
        let store = Store::create(path)?;
        store.apply(&[c.take_changes()])?;
        for i in 0..n {
            let now = c.entry(&c.tip()).map_or(0, |e| e.timestamp) + 1000;
            let mut b = c.template(PubKeyHash([i; 20]), vec![], 0, now, b"");
            pow::mine(&mut b.header);
            c.accept_block(b, now)?;
            store.apply(&[c.take_changes()])?;
        }
        let parent = c.hash_at(1).ok_or("no block 1")?;
        let now = c.entry(&c.tip()).map_or(0, |e| e.timestamp) + 1000;
        let coinbase = node_core::Transaction::new_coinbase(2, PubKeyHash([99; 20]), 10, b"side");
        let mut side = Block::new_template(parent, now, c.bits(), vec![coinbase]);
        pow::mine(&mut side.header);
        c.accept_block(side, now)?;
        store.apply(&[c.take_changes()])?;
        Ok((store, c))
    }

    /// Every stored row, by hash.
    fn rows(store: &Store) -> TestResult<HashMap<BlockHash, HeaderRow>> {
        let txn = store.db.begin_read()?;
        let table = txn.open_table(HEADERS)?;
        let mut out = HashMap::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let r: HeaderRow = codec::decode(v.value(), HEADER_ROW_LIMIT)?;
            let hash = r.header.hash();
            assert_eq!(hash.as_bytes().as_slice(), k.value());
            out.insert(hash, r);
        }
        Ok(out)
    }

    fn set_schema(store: &Store, version: u8) -> TestResult {
        let txn = store.db.begin_write()?;
        txn.open_table(META)?
            .insert(META_SCHEMA, [version].as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn schema(store: &Store) -> TestResult<Vec<u8>> {
        let txn = store.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let v = meta.get(META_SCHEMA)?.ok_or("no schema")?;
        Ok(v.value().to_vec())
    }

    /// Each row holds the height and work the chain's own index has for the block.
    fn assert_rows_match(store: &Store, c: &Chain) -> TestResult {
        let rows = rows(store)?;
        assert_eq!(rows.len(), c.entries().count(), "one row per indexed block");
        for (h, e) in c.entries() {
            let r = rows.get(&h).ok_or("a block has no row")?;
            assert_eq!((r.height, r.chain_work), (e.height, e.chain_work));
        }
        Ok(())
    }

    fn assert_loads_as(store: &Store, c: &Chain) -> TestResult {
        let loaded = store
            .load_chain(ChainParams::default())?
            .ok_or("no tip was stored")?;
        assert_eq!(loaded.tip(), c.tip());
        assert_eq!(loaded.utxo().digest(), c.utxo().digest());
        assert_eq!(
            loaded.entries().count(),
            c.entries().count(),
            "the side block too"
        );
        Ok(())
    }

    #[test]
    fn rows_are_written_with_their_height_and_work() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        assert_rows_match(&store, &c)?;
        assert_loads_as(&store, &c)
    }

    #[test]
    fn a_schema_2_file_gains_heights_once_and_loads() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let (store, c) = stored_chain(&path, 6)?;
        // Written as the previous build did: bare headers, schema 2.
        let txn = store.db.begin_write()?;
        {
            let mut table = txn.open_table(HEADERS)?;
            for (h, r) in rows(&store)? {
                table.insert(h.as_bytes().as_slice(), codec::encode(&r.header).as_slice())?;
            }
        }
        txn.commit()?;
        set_schema(&store, 2)?;
        drop(store);
        let store = Store::open(&path)?;
        assert_eq!(schema(&store)?, [SCHEMA_VERSION]);
        assert_rows_match(&store, &c)?;
        assert_loads_as(&store, &c)
    }

    #[test]
    fn a_schema_1_file_gains_its_rows_from_the_bodies() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let (store, c) = stored_chain(&path, 6)?;
        let txn = store.db.begin_write()?;
        txn.delete_table(HEADERS)?;
        txn.commit()?;
        set_schema(&store, 1)?;
        drop(store);
        let store = Store::open(&path)?;
        assert_eq!(schema(&store)?, [SCHEMA_VERSION]);
        assert_rows_match(&store, &c)?;
        assert_loads_as(&store, &c)
    }

    #[test]
    fn a_batch_listing_children_before_parents_is_positioned() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (_, c) = stored_chain(&dir.path().join("c.db"), 12)?;
        // A snapshot lists blocks in hash order, children often first.
        let copy = Store::create(&dir.path().join("copy.db"))?;
        copy.apply(&c.snapshot(3).collect::<Vec<_>>())?;
        assert_rows_match(&copy, &c)?;
        assert_loads_as(&copy, &c)
    }

    #[test]
    fn an_edited_row_is_refused_or_dropped() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let (store, c) = stored_chain(&path, 6)?;
        let edit = |hash: BlockHash, f: &dyn Fn(&mut HeaderRow)| -> TestResult {
            let mut r = *rows(&store)?.get(&hash).ok_or("no row")?;
            f(&mut r);
            let txn = store.db.begin_write()?;
            txn.open_table(HEADERS)?
                .insert(hash.as_bytes().as_slice(), codec::encode(&r).as_slice())?;
            txn.commit()?;
            Ok(())
        };
        // An attacker with the file claims more work for the side block: it is dropped,
        // not made the tip.
        let side = c
            .entries()
            .find(|(h, e)| e.height == 2 && c.hash_at(2) != Some(*h))
            .map(|(h, _)| h)
            .ok_or("no side block")?;
        edit(side, &|r| r.chain_work = u128::MAX)?;
        let loaded = store.load_chain(ChainParams::default())?.ok_or("no tip")?;
        assert_eq!(loaded.tip(), c.tip());
        assert!(
            !loaded.contains(&side),
            "an unlinked side row is not indexed"
        );
        // A tip row claiming a height beyond the stored blocks would size the active chain.
        edit(c.tip(), &|r| r.height = u64::MAX / 2)?;
        assert!(matches!(
            store.load_chain(ChainParams::default()),
            Err(StoreError::Corrupt { .. })
        ));
        // A tip row not one above its parent is refused.
        edit(c.tip(), &|r| r.height = 3)?;
        assert!(matches!(
            store.load_chain(ChainParams::default()),
            Err(StoreError::Corrupt { .. })
        ));
        Ok(())
    }

    /// Writes `value` under `key` in the headers table, as an editor of the file would.
    fn put_row(store: &Store, key: &[u8], value: &[u8]) -> TestResult {
        let txn = store.db.begin_write()?;
        txn.open_table(HEADERS)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }

    fn is_corrupt(store: &Store) -> bool {
        matches!(
            store.load_chain(ChainParams::default()),
            Err(StoreError::Corrupt { .. })
        )
    }

    /// The side block of [`stored_chain`] (height 2, off the active chain).
    fn side_block(c: &Chain) -> TestResult<BlockHash> {
        c.entries()
            .find(|(h, e)| e.height == 2 && c.hash_at(2) != Some(*h))
            .map(|(h, _)| h)
            .ok_or_else(|| "no side block".into())
    }

    #[test]
    fn a_row_copied_under_another_blocks_key_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        // The editor moves the tip's row under the side block's key, hoping the side
        // block inherits the tip's height and work.
        let tip_row = *rows(&store)?.get(&c.tip()).ok_or("no tip row")?;
        let side = side_block(&c)?;
        put_row(&store, side.as_bytes(), &codec::encode(&tip_row))?;
        assert!(is_corrupt(&store));
        Ok(())
    }

    #[test]
    fn a_deleted_mid_chain_row_leaves_the_tip_unlinked_and_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        let middle = c.hash_at(3).ok_or("no block 3")?;
        let txn = store.db.begin_write()?;
        txn.open_table(HEADERS)?
            .remove(middle.as_bytes().as_slice())?;
        txn.commit()?;
        assert!(is_corrupt(&store), "the tip no longer reaches genesis");
        Ok(())
    }

    #[test]
    fn a_parent_row_claiming_the_last_height_is_refused() -> TestResult {
        // One above u64::MAX overflows: the link check must say "corrupt", not panic.
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        let parent = c.hash_at(5).ok_or("no block 5")?;
        let mut row = *rows(&store)?.get(&parent).ok_or("no row")?;
        row.height = u64::MAX;
        put_row(&store, parent.as_bytes(), &codec::encode(&row))?;
        assert!(matches!(
            store.load_chain(ChainParams::default()),
            Err(StoreError::Corrupt { .. })
        ));
        Ok(())
    }

    #[test]
    fn rows_that_are_empty_garbage_or_a_megabyte_are_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 3)?;
        let key = [0xAB; 32];
        for value in [vec![], vec![0xFF; 7], vec![0x01; 1 << 20]] {
            put_row(&store, &key, &value)?;
            assert!(is_corrupt(&store), "a {}-byte row", value.len());
        }
        // Removing the bad row brings the honest chain back.
        let txn = store.db.begin_write()?;
        txn.open_table(HEADERS)?.remove(key.as_slice())?;
        txn.commit()?;
        assert_loads_as(&store, &c)
    }

    #[test]
    fn a_side_row_claiming_to_be_below_its_parent_is_dropped_not_linked_elsewhere() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        let side = side_block(&c)?;
        // The editor claims the side block sits at height 0 (and work to match), hoping
        // to load it before its parent as a second root, or under whatever block is indexed
        // where its parent should be.
        for height in [0, 1] {
            let mut row = *rows(&store)?.get(&side).ok_or("no side row")?;
            row.height = height;
            row.chain_work = pow::work(row.header.bits) * (u128::from(height) + 1);
            put_row(&store, side.as_bytes(), &codec::encode(&row))?;
            let loaded = store.load_chain(ChainParams::default())?.ok_or("no tip")?;
            assert_eq!(loaded.tip(), c.tip(), "claimed height {height}");
            assert!(!loaded.contains(&side), "claimed height {height}");
            assert_eq!(loaded.entries().count(), c.entries().count() - 1);
        }
        Ok(())
    }

    #[test]
    fn a_second_genesis_row_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, _) = stored_chain(&dir.path().join("c.db"), 3)?;
        let other = mine_genesis(PubKeyHash([7; 20]), 10, 1_700_000_000_001, 4, b"other");
        let row = HeaderRow {
            header: other.header,
            height: 0,
            chain_work: pow::work(other.header.bits),
        };
        put_row(&store, other.hash().as_bytes(), &codec::encode(&row))?;
        assert!(is_corrupt(&store));
        Ok(())
    }

    #[test]
    fn a_side_row_with_easier_bits_and_matching_work_is_dropped() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        let side = side_block(&c)?;
        let all = rows(&store)?;
        let side_row = *all.get(&side).ok_or("no side row")?;
        let parent = all.get(&side_row.header.prev).ok_or("no parent row")?;
        // The editor lowers the side block's difficulty and states the work those bits
        // would prove, so that the row is consistent with itself.
        let mut header = side_row.header;
        header.bits = 1;
        let forged = HeaderRow {
            header,
            height: side_row.height,
            chain_work: parent.chain_work + pow::work(header.bits),
        };
        put_row(&store, header.hash().as_bytes(), &codec::encode(&forged))?;
        let loaded = store.load_chain(ChainParams::default())?.ok_or("no tip")?;
        assert_eq!(loaded.tip(), c.tip());
        assert!(!loaded.contains(&header.hash()), "not genesis's bits");
        assert!(loaded.contains(&side), "the honest side row stays");
        Ok(())
    }

    #[test]
    fn an_unmined_bodiless_row_above_the_tip_is_not_made_the_tip() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, c) = stored_chain(&dir.path().join("c.db"), 6)?;
        let tip_row = *rows(&store)?.get(&c.tip()).ok_or("no tip row")?;
        // A child of the tip with the right height and work, but no proof of work and no
        // body: it outweighs the stored tip if its row is believed.
        let mut header = tip_row.header;
        header.prev = c.tip();
        header.timestamp += 1000;
        let forged = HeaderRow {
            header,
            height: tip_row.height + 1,
            chain_work: tip_row.chain_work + pow::work(header.bits),
        };
        put_row(&store, header.hash().as_bytes(), &codec::encode(&forged))?;
        let loaded = store.load_chain(ChainParams::default())?.ok_or("no tip")?;
        assert_eq!(loaded.tip(), c.tip());
        assert_eq!(loaded.utxo().digest(), c.utxo().digest());
        assert!(
            !loaded.contains(&header.hash()),
            "a block with no body is not kept as if it could connect"
        );
        Ok(())
    }
}
