//! The article's command lines as its readers type them, with Go's single-dash flags:
//! `createblockchain -address X`, `send -from A -to B -amount 10 -mine`,
//! `startnode -miner X`, `getbalance -address X`. The three-terminal scenario typed that way
//! ends with the article's balances; a mistyped single-dash flag is named whole.

mod common;

use common::seed::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_terminals_typed_with_single_dashes_end_9_9_1_1_10() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let balance_of = |id: &str, who: &str| {
        let out = ok(dir, id, &["getbalance", "-address", who]);
        out.trim()
            .strip_prefix(&format!("Balance of '{who}': "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("unexpected getbalance output {out:?}"))
    };

    // NODE 3000: `createblockchain -address CENTRAL_NODE` (a low difficulty for a test).
    let central = central_chain(dir, Dashes::One);
    let wallet: Vec<String> = (0..4).map(|_| new_address(dir, "3001")).collect();

    // NODE 3000: `send -from CENTRAL_NODE -to WALLET_1 -amount 10 -mine`, twice.
    fund(dir, Dashes::One, &central, &wallet[..2]);
    assert_eq!(balance_of("3000", &central), 10);

    // NODE 3000 `startnode`; NODE 3001 downloads the chain; NODE 3002 `startnode -miner X`.
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let tip2 = relay.status().await.tip.expect("relay has a tip");
    wallet_catches_up(dir, Dashes::One, &relay, &tip2).await;
    let miner = new_address(dir, "3002");
    let miner_node = start_miner(dir, Dashes::One, &relay, &miner).await;
    miner_node.wait_tip(&tip2).await;

    // NODE 3001: `send -from WALLET_1 -to WALLET_3 -amount 1`, and WALLET_2 to WALLET_4.
    pay_two(dir, Dashes::One, &wallet, &relay);
    let tip3 = mined_block_reaches_relay(&relay).await;

    // NODE 3001 downloads the new block, then the article's `getbalance -address` lines.
    wallet_catches_up(dir, Dashes::One, &relay, &tip3).await;
    let balances: Vec<u64> = [&wallet[0], &wallet[1], &wallet[2], &wallet[3], &miner]
        .iter()
        .map(|who| balance_of("3001", who))
        .collect();
    assert_eq!(balances, [9, 9, 1, 1, 10]);

    miner_node.stop();
    relay.stop();
}

#[test]
fn a_mistyped_single_dash_flag_is_named_whole_with_the_flags_there_are() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let err = fails(dir, "3000", &["createblockchain", "-adress", "X"]);
    assert!(
        err.starts_with("error: unknown flag '-adress' for createblockchain")
            && err.contains("--address"),
        "{err}"
    );
    let err = fails(
        dir,
        "3000",
        &["send", "-from", "A", "-to", "B", "-amount", "1", "-mined"],
    );
    assert!(
        err.starts_with("error: unknown flag '-mined' for send"),
        "{err}"
    );
    // A bad value behind a single-dash flag gets clap's own typed message.
    let err = fails(
        dir,
        "3000",
        &["send", "-from", "A", "-to", "B", "-amount", "ten"],
    );
    assert!(err.contains("invalid value 'ten' for '--amount"), "{err}");
    assert!(
        std::fs::read_dir(dir).expect("dir").next().is_none(),
        "nothing written"
    );
}

#[test]
fn help_is_unchanged_and_shows_the_double_dash_spelling() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = cli(tmp.path(), "3000", &["send", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--from <FROM>") && text.contains("--mine"),
        "{text}"
    );
    let single = cli(tmp.path(), "3000", &["send", "-help"]);
    assert_eq!(
        single.stdout, out.stdout,
        "-help is the seed's spelling of --help"
    );
}

#[test]
fn hostile_single_dash_command_lines_get_one_typed_line_and_write_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let huge = "9".repeat(40);
    for (args, expected) in [
        // A flag at the end with its value missing.
        (
            vec!["startnode", "-listen"],
            "a value is required for '--listen",
        ),
        // A port that is no port, and a negative one behind `=`.
        (
            vec!["startnode", "-listen=127.0.0.1:99999"],
            "invalid value",
        ),
        (
            vec!["startnode", "-listen=-1"],
            "invalid value '-1' for '--listen",
        ),
        // A number past every integer type.
        (
            vec!["send", "-from", "A", "-to", "B", "-amount", &huge],
            "invalid value",
        ),
        (vec!["startnode", "-max-peers", &huge], "invalid value"),
        // The same flag twice, in both spellings.
        (
            vec!["createblockchain", "-address", "A", "--address", "B"],
            "cannot be used multiple times",
        ),
        // A look-alike Cyrillic `а`, and an escape sequence that would repaint the terminal:
        // named whole, shown escaped.
        (
            vec!["createblockchain", "-\u{430}ddress", "X"],
            "unknown flag '-\\u{430}ddress' for createblockchain",
        ),
        (
            vec!["getbalance", "-address\u{1b}[2J", "X"],
            "unknown flag '-address\\u{1b}[2J' for getbalance",
        ),
    ] {
        let err = fails(dir, "3000", &args);
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(
            !err.contains('\u{1b}'),
            "{args:?}: an escape reached the terminal"
        );
    }
    assert!(
        std::fs::read_dir(dir).expect("dir").next().is_none(),
        "nothing written"
    );
}
