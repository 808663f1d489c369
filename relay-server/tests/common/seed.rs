//! The seed's three-terminal scenario, step by step, in either spelling of its flags: the
//! article's single dash (`-address X`, Go's `flag` package) or clap's double dash. The
//! tests that play it (`seed_flow.rs`, `seed_spellings.rs`) add their own checks between
//! the steps.

use std::path::Path;

use super::{new_address, ok, try_status, wait_for, NodeProc};

/// How the flags are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dashes {
    /// `-address X`, as the article's readers type it.
    One,
    /// `--address X`.
    Two,
}

impl Dashes {
    /// `name` as a flag in this spelling.
    pub fn flag(self, name: &str) -> String {
        match self {
            Dashes::One => format!("-{name}"),
            Dashes::Two => format!("--{name}"),
        }
    }
}

/// Runs `args` for node `id`, each `@name` typed as a flag in `dashes`' spelling.
pub fn typed(dir: &Path, id: &str, dashes: Dashes, args: &[&str]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix('@') {
            Some(name) => dashes.flag(name),
            None => a.to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(dir, id, &args)
}

/// NODE 3000: CENTRAL's address and a blockchain whose genesis pays it (low difficulty).
pub fn central_chain(dir: &Path, dashes: Dashes) -> String {
    let central = new_address(dir, "3000");
    let out = typed(
        dir,
        "3000",
        dashes,
        &["createblockchain", "@address", &central, "@bits", "8"],
    );
    assert!(out.ends_with("Done!\n"), "{out}");
    central
}

/// NODE 3000: sends 10 to each of `to`, each mined at once.
pub fn fund(dir: &Path, dashes: Dashes, central: &str, to: &[String]) {
    for to in to {
        let out = typed(
            dir,
            "3000",
            dashes,
            &[
                "send", "@from", central, "@to", to, "@amount", "10", "@mine",
            ],
        );
        assert_eq!(out, "Success!\n");
    }
}

/// NODE 3001 (wallet) starts, downloads the relay's chain up to `tip`, and stops.
pub async fn wallet_catches_up(dir: &Path, dashes: Dashes, relay: &NodeProc, tip: &str) {
    let peer = dashes.flag("peer");
    let wallet_node = NodeProc::start(dir, "3001", &[&peer, &relay.ws_url()]).await;
    wallet_node.wait_tip(tip).await;
    wallet_node.stop();
}

/// NODE 3002 starts mining to `miner` with the relay as its peer.
pub async fn start_miner(dir: &Path, dashes: Dashes, relay: &NodeProc, miner: &str) -> NodeProc {
    let (m, p) = (dashes.flag("miner"), dashes.flag("peer"));
    NodeProc::start(dir, "3002", &[&m, miner, &p, &relay.ws_url()]).await
}

/// NODE 3001: 1 from WALLET_1 to WALLET_3 and from WALLET_2 to WALLET_4, through the relay.
pub fn pay_two(dir: &Path, dashes: Dashes, wallet: &[String], relay: &NodeProc) {
    for (from, to) in [(0, 2), (1, 3)] {
        let out = typed(
            dir,
            "3001",
            dashes,
            &[
                "send",
                "@from",
                &wallet[from],
                "@to",
                &wallet[to],
                "@amount",
                "1",
                "@relay",
                &relay.ws_url(),
            ],
        );
        assert_eq!(out, "Success!\n");
    }
}

/// The miner's block with both payments reaches the relay: its tip then.
pub async fn mined_block_reaches_relay(relay: &NodeProc) -> String {
    let mined = wait_for("the relay to receive the mined block", || async {
        try_status(relay.addr)
            .await
            .filter(|s| s.height == 3 && s.mempool == 0)
    })
    .await;
    mined.tip.expect("tip")
}
