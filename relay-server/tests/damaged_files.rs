//! Class "what a node reads back from its own disk" of issue 13: the chain file cut short or
//! overwritten, blocks and UTXO records edited, a wallet line damaged, control files that
//! are garbage, a link left at a temporary file's name. Each is detected and refused or
//! recovered from, said in one line — never a panic, never coins minted, never every key
//! lost for one bad line.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use node_core::chain::ChainChanges;
use node_core::{consensus::pow, ChainParams, KeyPair, OutPoint, Transaction, TxOut, UtxoEntry};
use rand_core::OsRng;
use relay_server::store::Store;

/// A run that did not panic: exit code 0, or 1 with exactly one `error:` line on stderr.
fn no_panic(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && out.status.code() != Some(101),
        "{what} panicked: {stderr}"
    );
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("error: "),
            "{what} should fail with one line: {stderr:?}"
        );
    }
}

/// A chain of 30 blocks for node 3000, paying `to`; returns a copy of its file.
fn chain_file(dir: &Path, to: &str) -> Vec<u8> {
    create_chain(dir, "3000", to);
    ok(
        dir,
        "3000",
        &["generate", "--address", to, "--blocks", "30"],
    );
    std::fs::read(dir.join("blockchain_3000.db")).expect("chain file")
}

#[test]
fn a_chain_file_cut_short_or_overwritten_is_reported_in_one_line_never_with_a_panic() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    let good = chain_file(dir, &me);
    let db = dir.join("blockchain_3000.db");
    let mut damages: Vec<(String, Vec<u8>)> = [0, 512, 4096, good.len() / 3, good.len() / 2]
        .into_iter()
        .map(|n| (format!("cut to {n} bytes"), good[..n].to_vec()))
        .collect();
    let mut header = good.clone();
    header[..4096].fill(0xa5);
    damages.push(("its first page overwritten".into(), header));
    // 64 bytes flipped every 64 KiB across the file, one place at a time.
    for at in (0..good.len()).step_by(64 * 1024) {
        let mut flipped = good.clone();
        for b in flipped.iter_mut().skip(at + 100).take(64) {
            *b ^= 0x5a;
        }
        damages.push((format!("64 bytes flipped at {}", at + 100), flipped));
    }
    let mut refused = 0;
    for (what, bytes) in &damages {
        for args in [
            vec!["getbalance", "--address", me.as_str()],
            vec!["printchain"],
            vec!["reindexutxo"],
        ] {
            std::fs::write(&db, bytes).expect("damaged file written");
            let out = cli(dir, "3000", &args);
            no_panic(&format!("{} on a file {what}", args[0]), &out);
            refused += usize::from(!out.status.success());
        }
    }
    assert!(refused > 0, "some damage was noticed");
    // A node asked to start on a file cut short says so and stops.
    std::fs::write(&db, &good[..4096]).expect("cut");
    let out = cli(dir, "3000", &["startnode", "--listen", "127.0.0.1:0"]);
    no_panic("startnode on a file cut short", &out);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is damaged"), "{err}");
}

/// Writes `changes` into node 3000's store, as an editor of the file would.
fn edit_store(dir: &Path, changes: ChainChanges) {
    let store = Store::open(&dir.join("blockchain_3000.db")).expect("store");
    store.apply(&[changes]).expect("edited");
}

#[test]
fn reindexing_a_store_whose_blocks_were_edited_validates_them_and_mints_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    chain_file(dir, &me);
    let thief = KeyPair::generate(&mut OsRng);
    let thief_address = thief.address().to_string();

    // The tip rewritten: its coinbase pays the thief a million, re-mined at the chain's
    // difficulty, stored under its new hash and made the tip.
    let store = Store::open(&dir.join("blockchain_3000.db")).expect("store");
    let chain = store
        .load_chain(ChainParams::default())
        .expect("readable")
        .expect("a chain");
    let mut forged = chain.body_at(chain.height()).expect("tip").into_owned();
    let height = chain.height();
    drop((chain, store));
    forged.transactions[0] =
        Transaction::new_coinbase(height, thief.pubkey_hash(), 1_000_000, b"mine now");
    forged.header.merkle_root = node_core::Block::merkle_root_of(&forged.txids());
    pow::mine(&mut forged.header).expect("mined");
    let forged_hash = forged.hash();
    edit_store(
        dir,
        ChainChanges {
            blocks: vec![forged],
            tip: Some(forged_hash),
            ..ChainChanges::default()
        },
    );
    let out = cli(dir, "3000", &["reindexutxo"]);
    no_panic("reindexutxo over an edited block", &out);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().count() == 1 && err.contains(&format!("at height {height}")),
        "the edited block is named in one line: {err}"
    );
    assert_eq!(balance(dir, "3000", &thief_address), 0, "no coins minted");
    let (_, after, tip) = utxo_digest(dir, "3000");
    assert_eq!(
        after, height,
        "the original block at that height is still valid"
    );
    assert_ne!(tip, forged_hash.to_string(), "the edited block is gone");

    // A UTXO record added by hand: refused when the chain is read, and gone after a reindex.
    let coin = OutPoint {
        txid: node_core::Txid::from_hash(node_core::Hash256([7; 32])),
        vout: 0,
    };
    let entry = UtxoEntry {
        output: TxOut {
            value: 1_000_000,
            pubkey_hash: thief.pubkey_hash(),
        },
        height: 1,
        coinbase: false,
    };
    edit_store(
        dir,
        ChainChanges {
            utxo: vec![(coin, Some(entry))],
            ..ChainChanges::default()
        },
    );
    let out = cli(dir, "3000", &["getbalance", "--address", &thief_address]);
    no_panic("getbalance over an edited UTXO set", &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "minted coins were shown");
    assert!(
        err.contains("more than") && err.contains("reindexutxo"),
        "{err}"
    );
    ok(dir, "3000", &["reindexutxo"]);
    assert_eq!(balance(dir, "3000", &thief_address), 0);
    assert!(
        balance(dir, "3000", &me) > 0,
        "the real coins are still there"
    );
}

#[test]
fn a_damaged_wallet_line_costs_its_own_key_only() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let first = new_address(dir, "3000");
    let second = new_address(dir, "3000");
    let wallet = dir.join("wallet_3000.dat");
    let text = std::fs::read(&wallet).expect("wallet");
    // The second key's line loses its last digits, and binary junk follows.
    let mut damaged = text[..text.len() - 10].to_vec();
    damaged.extend_from_slice(b"\n\xff\xfe\x00junk\n");
    std::fs::write(&wallet, &damaged).expect("damaged");

    let out = cli(dir, "3000", &["listaddresses"]);
    no_panic("listaddresses", &out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&first) && !listed.contains(&second),
        "{listed}"
    );
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("line 3"),
        "the damaged line is named: {warned}"
    );

    // The wallet still takes new keys, and keeps the damaged lines for whoever repairs them.
    let third = new_address(dir, "3000");
    let listed = ok(dir, "3000", &["listaddresses"]);
    assert!(listed.contains(&first) && listed.contains(&third));
    let kept = std::fs::read(&wallet).expect("wallet");
    assert!(
        kept.windows(4).any(|w| w == b"junk"),
        "damaged lines are kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_control_files_are_ignored_and_a_link_at_a_temporary_name_is_not_followed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    // Something listening on loopback where the address file points, and a cookie that is
    // not one: the command must run on the files, not fail on the garbage.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let at = listener.local_addr().expect("addr");
    std::fs::write(dir.join(".cookie_3000"), "ab\ncd\u{7}").expect("cookie");
    std::fs::write(dir.join("node_3000.addr"), at.to_string()).expect("addr");
    let out = cli(dir, "3000", &["getbalance", "--address", &me]);
    no_panic("getbalance with a garbage cookie", &out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(listener);
    // An address file that is huge, or names another host, is not followed either.
    std::fs::write(dir.join(".cookie_3000"), "a".repeat(64)).expect("cookie");
    std::fs::File::create(dir.join("node_3000.addr"))
        .and_then(|f| f.set_len(1 << 30))
        .expect("huge addr");
    assert!(ok(dir, "3000", &["listaddresses"]).contains(&me));
    std::fs::write(dir.join("node_3000.addr"), "192.0.2.1:3000").expect("addr");
    assert!(ok(dir, "3000", &["listaddresses"]).contains(&me));
    std::fs::remove_file(dir.join(".cookie_3000")).expect("removed");
    std::fs::remove_file(dir.join("node_3000.addr")).expect("removed");

    // A link left at the cookie's temporary name must not carry the cookie elsewhere.
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "precious").expect("victim");
    std::os::unix::fs::symlink(&victim, dir.join(".cookie_3000.tmp")).expect("link");
    let relay = NodeProc::start(dir, "3000", &[]).await;
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious",
        "the cookie was written through a link"
    );
    relay.stop();
}
