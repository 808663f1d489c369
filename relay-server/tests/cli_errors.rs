//! Mistakes a user makes on the command line: each gives one clear line on stderr, a
//! non-zero exit, and writes nothing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// Every file of `dir` with its bytes, except the chain database, which is compared by
/// content through [`utxo_digest`] (redb rewrites its header when a reader opens it).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = if name.ends_with(".db") {
            Vec::new()
        } else {
            std::fs::read(entry.path()).expect("read")
        };
        files.insert(name, bytes);
    }
    files
}

#[test]
fn commands_needing_a_chain_say_there_is_none_and_create_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let valid = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2";
    for args in [
        vec!["getbalance", "--address", valid],
        vec!["printchain"],
        vec!["reindexutxo"],
        vec![
            "send", "--from", valid, "--to", valid, "--amount", "1", "--mine",
        ],
        vec!["startnode"],
    ] {
        let err = fails(dir, "3000", &args);
        assert_eq!(
            err, "error: No existing blockchain found. Create one first.",
            "{args:?}"
        );
    }
    assert!(
        snapshot(dir).is_empty(),
        "nothing written: {:?}",
        snapshot(dir).keys()
    );
}

#[test]
fn bad_addresses_are_refused_with_their_reason() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let err = fails(
        dir,
        "3000",
        &["createblockchain", "--address", "not-an-address"],
    );
    assert!(
        err.starts_with("error: invalid address 'not-an-address':"),
        "{err}"
    );
    assert!(err.contains("base58"), "{err}");
    assert!(snapshot(dir).is_empty(), "createblockchain wrote nothing");

    let good = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &good, "--bits", "8"],
    );
    let before = snapshot(dir);
    let digest = utxo_digest(dir, "3000");

    // A typo in the last character breaks the checksum.
    let mut typo = good.clone();
    let last = typo.pop().expect("non-empty");
    typo.push(if last == '2' { '3' } else { '2' });
    let err = fails(dir, "3000", &["getbalance", "--address", &typo]);
    assert!(err.contains("checksum"), "{err}");
    let err = fails(
        dir,
        "3000",
        &[
            "send", "--from", &good, "--to", "xyz", "--amount", "1", "--mine",
        ],
    );
    assert!(
        err.starts_with("error: invalid recipient address 'xyz'"),
        "{err}"
    );
    let err = fails(dir, "3000", &["startnode", "--miner", "0OIl"]);
    assert!(err.starts_with("error: invalid miner address"), "{err}");

    // An address that is valid but not in this node's wallet cannot send.
    let stranger = new_address(dir, "3999");
    let err = fails(
        dir,
        "3000",
        &[
            "send", "--from", &stranger, "--to", &good, "--amount", "1", "--mine",
        ],
    );
    assert!(err.contains("is not in this node's wallet"), "{err}");

    let mut after = snapshot(dir);
    after.remove("wallet_3999.dat");
    after.remove("wallet_3999.dat.lock");
    assert_eq!(after, before, "nothing written by the failures");
    assert_eq!(utxo_digest(dir, "3000"), digest, "chain unchanged");
}

#[test]
fn insufficient_funds_and_an_existing_chain_are_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    let you = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
    let before = snapshot(dir);
    let digest = utxo_digest(dir, "3000");

    let err = fails(
        dir,
        "3000",
        &[
            "send", "--from", &me, "--to", &you, "--amount", "11", "--mine",
        ],
    );
    assert_eq!(err, "error: not enough funds: have 10, need 11");
    let err = fails(
        dir,
        "3000",
        &[
            "send", "--from", &you, "--to", &me, "--amount", "1", "--mine",
        ],
    );
    assert_eq!(err, "error: not enough funds: have 0, need 1");
    let err = fails(dir, "3000", &["createblockchain", "--address", &you]);
    assert_eq!(err, "error: Blockchain already exists.");

    assert_eq!(snapshot(dir), before);
    assert_eq!(utxo_digest(dir, "3000"), digest);
    assert_eq!(balance(dir, "3000", &me), 10);
}

#[test]
fn bad_arguments_get_one_line_and_exit_code_2() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    for args in [
        vec!["getbalance"],
        vec!["send", "--from", "a", "--to", "b", "--amount", "0"],
        vec!["send", "--from", "a", "--to", "b", "--amount", "-3"],
        vec!["createblockchain", "--address", "a", "--bits", "0"],
        vec!["frobnicate"],
        vec!["startnode", "--listen", "nowhere"],
    ] {
        let out = cli(dir, "3000", &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
        assert!(err.starts_with("error:"), "{err}");
    }
    let out = std::process::Command::new(BIN)
        .args(["--node-id", "../x", "listaddresses"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(snapshot(dir).is_empty());
}

#[test]
fn a_public_url_that_is_not_a_websocket_url_is_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    for url in ["http://relay.example/ws", "relay.example:3000", "ws://"] {
        let out = cli(
            dir,
            "3000",
            &[
                "startnode",
                "--peer",
                "ws://127.0.0.1:9/ws",
                "--public-url",
                url,
            ],
        );
        assert!(!out.status.success(), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("error: invalid --public-url URL '{url}'")),
            "{url}: {err}"
        );
    }
    assert!(snapshot(dir).is_empty(), "nothing was created");
}

#[test]
fn an_unreachable_relay_is_reported() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3001");
    let you = new_address(dir, "3001");
    ok(
        dir,
        "3001",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let relay = format!("ws://127.0.0.1:{port}/ws");
    let err = fails(
        dir,
        "3001",
        &[
            "send", "--from", &me, "--to", &you, "--amount", "1", "--relay", &relay,
        ],
    );
    assert!(err.starts_with("error: cannot reach the relay at"), "{err}");
}
