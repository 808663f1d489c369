//! Item 9 of issue 13: twenty `createwallet`s started at once, with no node running, each
//! read the wallet, added a key and wrote it back over the others; most printed an address
//! whose key was gone a moment later, and coins sent there were lost for good.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::*;

/// Commands started at once.
const RUNS: usize = 20;

#[test]
fn twenty_createwallets_at_once_print_only_addresses_whose_keys_are_kept() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    // One key first, so every run reads and rewrites a file that already holds one.
    let first = new_address(dir, "3000");
    let children: Vec<_> = (0..RUNS)
        .map(|_| {
            Command::new(BIN)
                .args(["--node-id", "3000", "--data-dir"])
                .arg(dir)
                .arg("createwallet")
                .env_remove("NODE_ID")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("createwallet starts")
        })
        .collect();
    let mut printed = BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().expect("createwallet ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            let address = stdout
                .trim()
                .strip_prefix("Your new address: ")
                .unwrap_or_else(|| panic!("unexpected output {stdout:?}"));
            printed.insert(address.to_string());
        } else {
            // Failing is allowed, silently printing an address is not: one clear line.
            assert!(stdout.is_empty(), "a failed run printed {stdout:?}");
            assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
            assert!(stderr.contains("wallet"), "{stderr:?}");
        }
    }
    let listed: BTreeSet<String> = ok(dir, "3000", &["listaddresses"])
        .lines()
        .map(str::to_string)
        .collect();
    let lost: Vec<&String> = printed.difference(&listed).collect();
    assert!(
        lost.is_empty(),
        "{} of {} printed addresses have no key in the wallet: {lost:?}",
        lost.len(),
        printed.len()
    );
    assert!(listed.contains(&first), "the key made before is kept");
    // Waiting for each other, they all succeed.
    assert_eq!(printed.len(), RUNS, "every run made its key");
    assert_eq!(listed.len(), RUNS + 1);
}
