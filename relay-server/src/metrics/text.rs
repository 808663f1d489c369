//! Prometheus's text exposition format (version 0.0.4): `# HELP` and `# TYPE` before each
//! family, one sample a line, label values from fixed lists (nothing a peer typed).

use std::fmt::Write as _;

use super::{Gauges, Histogram, Labels, Metrics, DURATION_BUCKETS};

/// The content type scrapers expect for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything, as one scrape's text. `gauges` is `None` when the hub did not answer.
pub fn render(m: &Metrics, gauges: Option<&Gauges>, resident: Option<u64>) -> String {
    let mut out = String::new();
    let labeled = |out: &mut String, name: &str, help: &str, label: &str, values: &Labels| {
        family(out, name, help, "counter");
        for (l, n) in values.values() {
            let _ = writeln!(out, "{name}{{{label}=\"{l}\"}} {n}");
        }
    };
    labeled(
        &mut out,
        "relay_frames_received_total",
        "Frames read from peers, by command.",
        "command",
        &m.frames_in,
    );
    labeled(
        &mut out,
        "relay_frame_bytes_received_total",
        "Bytes of frames read from peers, by command.",
        "command",
        &m.bytes_in,
    );
    labeled(
        &mut out,
        "relay_frames_sent_total",
        "Frames written to peers, by command.",
        "command",
        &m.frames_out,
    );
    labeled(
        &mut out,
        "relay_frame_bytes_sent_total",
        "Bytes of frames written to peers, by command.",
        "command",
        &m.bytes_out,
    );
    labeled(
        &mut out,
        "relay_ws_refused_total",
        "WebSocket requests refused before they became connections, by reason.",
        "reason",
        &m.refused,
    );
    labeled(
        &mut out,
        "relay_disconnects_total",
        "Peer connections ended, by reason.",
        "reason",
        &m.disconnects,
    );
    labeled(
        &mut out,
        "relay_bans_total",
        "Addresses refused for a while for misbehaviour, by reason.",
        "reason",
        &m.bans,
    );
    histogram(
        &mut out,
        "relay_block_handling_seconds",
        "Time the node took to take in a block frame, validation included.",
        &m.block_handling,
    );
    histogram(
        &mut out,
        "relay_tx_handling_seconds",
        "Time the node took to take in a tx frame (signatures checked before).",
        &m.tx_handling,
    );
    histogram(
        &mut out,
        "relay_tx_signature_check_seconds",
        "Time a tx frame's signature checks took.",
        &m.tx_signatures,
    );

    family(
        &mut out,
        "relay_up",
        "Whether the hub answered this scrape.",
        "gauge",
    );
    let _ = writeln!(out, "relay_up {}", u8::from(gauges.is_some()));
    if let Some(g) = gauges {
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            family(out, name, help, "gauge");
            let _ = writeln!(out, "{name} {v}");
        };
        family(
            &mut out,
            "relay_peers",
            "Open peer connections, by kind (handshaken: past the version exchange).",
            "gauge",
        );
        for (kind, n) in [
            ("inbound", g.peers_inbound),
            ("outbound", g.peers_outbound),
            ("handshaken", g.peers_handshaken),
        ] {
            let _ = writeln!(out, "relay_peers{{kind=\"{kind}\"}} {n}");
        }
        family(
            &mut out,
            "relay_peers_by_role",
            "Peers past the handshake, by the role they announced.",
            "gauge",
        );
        for (role, n) in g.peers_by_role {
            let _ = writeln!(out, "relay_peers_by_role{{role=\"{role}\"}} {n}");
        }
        gauge(
            &mut out,
            "relay_ready",
            "Whether a chain is loaded and the relay listens.",
            u64::from(g.has_chain),
        );
        gauge(
            &mut out,
            "relay_chain_height",
            "Height of the active chain.",
            g.height,
        );
        gauge(
            &mut out,
            "relay_sync_target_height",
            "Best height any peer announced.",
            g.target_height,
        );
        gauge(
            &mut out,
            "relay_syncing",
            "Whether the relay is behind its best peer.",
            u64::from(g.syncing),
        );
        gauge(
            &mut out,
            "relay_mempool_transactions",
            "Transactions in the mempool.",
            g.mempool as u64,
        );
        gauge(
            &mut out,
            "relay_orphan_blocks",
            "Blocks waiting for their parent.",
            g.orphans as u64,
        );
        gauge(
            &mut out,
            "relay_mining",
            "Whether the relay is mining a block now.",
            u64::from(g.mining),
        );
    }
    if let Some(bytes) = resident {
        family(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
    }
    out
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    family(out, name, help, "histogram");
    let (buckets, count, sum) = h.snapshot();
    for (bound, n) in DURATION_BUCKETS.iter().zip(buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}
