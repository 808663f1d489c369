//! What an operator watches: `/livez`, `/readyz` and Prometheus `/metrics` on their own
//! loopback address. The scrape must be valid text format (checked by a strict parser here,
//! written from the format's description, not by a library that forgives), and its numbers
//! must move when frames flow: a wallet says hello, a client behind the trusted proxy sends
//! junk and is banned by its own address.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{encode_frame, Message, Role, Version, PROTOCOL_VERSION};
use relay_server::cli::http_client;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// One sample: its name, its labels, its value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// `{a="x",b="y"}` (the braces removed) as a map; escapes `\\`, `\"`, `\n` only.
fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or(format!("no =\" in {rest:?}"))?;
        if !is_name(name, false) || labels.contains_key(name) {
            return Err(format!("bad or repeated label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        labels.insert(name.to_string(), value);
        rest = &after[end + 1..];
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.is_empty() => rest,
            None => return Err(format!("junk after a label: {rest:?}")),
        };
    }
    Ok(labels)
}

/// The family a sample belongs to: histograms' samples carry a suffix.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram") {
                return base;
            }
        }
    }
    name
}

/// Parses a whole scrape, strictly: every family's `# TYPE` once and before its samples, its
/// samples together, no sample twice, counters named `_total`, histograms' buckets
/// cumulative with `+Inf` equal to `_count`.
fn parse_scrape(text: &str) -> Result<Vec<Sample>, String> {
    if !text.ends_with('\n') {
        return Err("the text must end with a newline".into());
    }
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeSet<String> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let name = name.ok_or_else(|| at("no name".into()))?;
            if !is_name(name, true) {
                return Err(at("bad metric name".into()));
            }
            match kind {
                Some("TYPE") => {
                    let t = rest.ok_or_else(|| at("no type".into()))?;
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(at(format!("unknown type {t}")));
                    }
                    if types.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(at("TYPE given twice".into()));
                    }
                    if t == "counter" && !name.ends_with("_total") {
                        return Err(at("a counter's name ends in _total".into()));
                    }
                }
                Some("HELP") if !helps.insert(name.to_string()) => {
                    return Err(at("HELP given twice".into()));
                }
                _ => {}
            }
            if current.as_deref() != Some(name) {
                if let Some(done) = current.take() {
                    finished.insert(done);
                }
                if finished.contains(name) {
                    return Err(at("family split in two".into()));
                }
                current = Some(name.to_string());
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            return Err(at("empty line or bad comment".into()));
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| at("no value".into()))?;
        let value = parse_value(value).map_err(at)?;
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .ok_or_else(|| at("no closing brace".into()))?;
                (name, parse_labels(inner).map_err(at)?)
            }
            None => (series, BTreeMap::new()),
        };
        if !is_name(name, true) {
            return Err(at("bad metric name".into()));
        }
        let family = family_of(name, &types);
        if !types.contains_key(family) {
            return Err(at("sample before its TYPE".into()));
        }
        if current.as_deref() != Some(family) {
            return Err(at("sample outside its family's block".into()));
        }
        if !seen.insert(series.to_string()) {
            return Err(at("the same series twice".into()));
        }
        if types[family] == "counter" && (value < 0.0 || value.is_nan()) {
            return Err(at("a counter is never negative".into()));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for (family, t) in &types {
        if t != "histogram" {
            continue;
        }
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
            .collect();
        let les: Vec<f64> = buckets
            .iter()
            .map(|s| parse_value(s.labels.get("le").map_or("", |l| l.as_str())))
            .collect::<Result<_, _>>()?;
        if les.last() != Some(&f64::INFINITY) || les.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("{family}: le bounds must rise to +Inf: {les:?}"));
        }
        if buckets.windows(2).any(|w| w[0].value > w[1].value) {
            return Err(format!("{family}: buckets must be cumulative"));
        }
        let count = samples.iter().find(|s| s.name == format!("{family}_count"));
        if count.map(|c| c.value) != buckets.last().map(|b| b.value) {
            return Err(format!("{family}: the +Inf bucket must equal _count"));
        }
    }
    Ok(samples)
}

/// The value of `name` with `labels` in `samples`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
}

async fn scrape(at: SocketAddr) -> Vec<Sample> {
    let res = http_client::get(at, "/metrics")
        .await
        .expect("GET /metrics");
    assert!(res.status.is_success());
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8_lossy(&res.body).into_owned();
    parse_scrape(&text).unwrap_or_else(|e| panic!("not Prometheus text format: {e}\n{text}"))
}

/// The metrics address from the start banner.
async fn metrics_address(node: &NodeProc) -> SocketAddr {
    wait_for("the banner's metrics address", || {
        let found = node.log_tail().lines().find_map(|l| {
            l.strip_prefix("Metrics on http://")
                .and_then(|r| r.split_once("/metrics"))
                .and_then(|(a, _)| a.parse().ok())
        });
        async move { found }
    })
    .await
}

#[test]
fn the_parser_refuses_what_prometheus_would() {
    let good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\"} 1\n";
    assert!(parse_scrape(good).is_ok());
    for bad in [
        "a_total 1\n",                                // no TYPE
        "# TYPE a counter\na 1\n",                    // counter without _total
        "# TYPE a gauge\na{k=\"v} 1\n",               // unterminated label
        "# TYPE a gauge\na 1\na 2\n",                 // a series twice
        "# TYPE a gauge\na one\n",                    // not a number
        "# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n", // family split
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# TYPE a gauge\na 1", // no final newline
    ] {
        assert!(parse_scrape(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_as_frames_flow_and_a_client_behind_the_proxy_is_banned() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let relay = NodeProc::start(
        dir,
        "3000",
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--trusted-proxy",
            "127.0.0.1",
        ],
    )
    .await;
    let metrics = metrics_address(&relay).await;
    assert!(metrics.ip().is_loopback());
    for (at, path) in [
        (metrics, "/livez"),
        (metrics, "/readyz"),
        (relay.addr, "/livez"),
        (relay.addr, "/readyz"),
    ] {
        let res = http_client::get(at, path).await.expect("probe");
        assert_eq!(res.status.as_u16(), 200, "{at}{path}");
    }
    let main_metrics = http_client::get(relay.addr, "/metrics").await.expect("GET");
    assert_ne!(
        main_metrics.status.as_u16(),
        200,
        "the metrics are not on the public port"
    );

    let before = scrape(metrics).await;
    assert_eq!(value(&before, "relay_ready", &[]), 1.0);
    assert_eq!(value(&before, "relay_chain_height", &[]), 0.0);
    assert!(value(&before, "process_resident_memory_bytes", &[]) > 0.0);
    let hellos_in =
        |s: &[Sample]| value(s, "relay_frames_received_total", &[("command", "version")]);
    let hellos_out = |s: &[Sample]| value(s, "relay_frames_sent_total", &[("command", "version")]);
    assert_eq!(hellos_in(&before), 0.0);

    // A wallet says hello through the proxy; the relay answers with its own version.
    let genesis = relay.status().await.genesis.expect("genesis");
    let genesis = node_core::BlockHash::from_hex(&genesis).expect("hex");
    let mut request = relay.ws_url().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-forwarded-for", HeaderValue::from_static("198.51.100.20"));
    let (mut wallet, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connects");
    let hello = encode_frame(&Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: "metrics-test".into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 77,
        user_agent: "metrics-test".into(),
    }));
    let hello_len = hello.len() as f64;
    wallet.send(hello.into()).await.expect("hello sent");
    let answer = wallet.next().await.expect("an answer").expect("a frame");
    assert!(answer.is_binary());
    let after = wait_for("the hello to be counted both ways", || async {
        let s = scrape(metrics).await;
        (hellos_in(&s) == 1.0 && hellos_out(&s) >= 1.0).then_some(s)
    })
    .await;
    assert_eq!(
        value(
            &after,
            "relay_frame_bytes_received_total",
            &[("command", "version")]
        ),
        hello_len
    );
    assert_eq!(value(&after, "relay_peers", &[("kind", "inbound")]), 1.0);
    wallet
        .send(encode_frame(&Message::Verack).into())
        .await
        .expect("verack sent");
    let up = wait_for("the wallet past its handshake", || async {
        let s = scrape(metrics).await;
        (value(&s, "relay_peers_by_role", &[("role", "wallet")]) == 1.0).then_some(s)
    })
    .await;
    assert_eq!(value(&up, "relay_peers", &[("kind", "handshaken")]), 1.0);
    assert_eq!(value(&up, "relay_peers_by_role", &[("role", "miner")]), 0.0);

    // A client behind the same proxy sends junk: it is banned by its own address.
    let mut request = relay.ws_url().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-forwarded-for", HeaderValue::from_static("198.51.100.21"));
    let (mut bad, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connects");
    let junk = b"JUNKversion\0\0\0\0\0 and more".to_vec();
    bad.send(junk.into()).await.expect("junk sent");
    let banned = wait_for("the junk sender to be banned", || async {
        let s = scrape(metrics).await;
        (value(&s, "relay_bans_total", &[("reason", "protocol")]) == 1.0).then_some(s)
    })
    .await;
    assert_eq!(
        value(
            &banned,
            "relay_frames_received_total",
            &[("command", "unknown")]
        ),
        1.0
    );
    let mut again = relay.ws_url().into_client_request().expect("request");
    again
        .headers_mut()
        .insert("x-forwarded-for", HeaderValue::from_static("198.51.100.21"));
    assert!(tokio_tungstenite::connect_async(again).await.is_err());
    let refused = scrape(metrics).await;
    assert_eq!(
        value(
            &refused,
            "relay_ws_refused_total",
            &[("reason", "banned_address")]
        ),
        1.0
    );
    assert_eq!(
        value(&refused, "relay_peers", &[("kind", "inbound")]),
        1.0,
        "the wallet behind the same proxy is still connected"
    );
    drop(wallet);
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_still_waiting_for_its_first_chain_is_alive_but_not_ready() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    // A peer that is not there: the relay has no chain to load and none arrives.
    let relay = NodeProc::start(
        dir,
        "3001",
        &[
            "--peer",
            "ws://127.0.0.1:9/ws",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
    .await;
    let live = http_client::get(relay.addr, "/livez").await.expect("GET");
    assert_eq!(live.status.as_u16(), 200);
    let ready = http_client::get(relay.addr, "/readyz").await.expect("GET");
    assert_eq!(ready.status.as_u16(), 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("no chain yet"));
    let metrics = metrics_address(&relay).await;
    assert_eq!(value(&scrape(metrics).await, "relay_ready", &[]), 0.0);
    relay.stop();
}

#[test]
fn a_bad_metrics_address_is_refused_with_its_reason() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let err = fails(
        tmp.path(),
        "3000",
        &["startnode", "--metrics-listen", "localhost"],
    );
    assert!(
        err.contains("'localhost' is not an address such as 127.0.0.1:13000, nor 'off'"),
        "{err}"
    );
}
