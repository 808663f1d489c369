//! A simulated run written in the network lab's recording format (`www/lab/replay.js`), so a
//! 50-node run can be loaded into `/lab/` and watched on its map.
//!
//! The lab's map has one relay in the middle and its nodes around it; a simulated network
//! may have several relays. So the recording names the clients only (`n1`, `n2`, … in the
//! order of their indices), every relay is "the relay", and a frame between a client and
//! any relay is one message along that client's edge: `out` when the client sent it, `in`
//! when it received it. Frames between relays, and pings and pongs (they would drown the
//! rest), are left out. A client's badge is recorded when its height, its connection or its
//! mining changes.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// The `format` field the lab checks.
pub const FORMAT: &str = "blockchain-lab-recording";
/// The `version` the lab reads.
pub const VERSION: u32 = 1;
/// Most events the lab loads (`MAX_EVENTS` in `www/lab/replay.js`): past it the recording
/// stops and says so ([`Recording::full`]).
pub const MAX_EVENTS: usize = 50_000;
/// Most nodes the lab loads (`MAX_NODES` in `www/lab/replay.js`).
pub const MAX_NODES: usize = 200;
/// Longest command the lab accepts (lower-case letters only).
const MAX_COMMAND: usize = 12;

/// Why a recording could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingError {
    /// More clients than the lab shows.
    TooManyNodes(usize),
}

impl core::fmt::Display for RecordingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RecordingError::TooManyNodes(n) => {
                write!(f, "{n} clients: the lab shows at most {MAX_NODES}")
            }
        }
    }
}

/// A client's badge as the lab draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Badge {
    /// Its chain's height.
    pub height: u64,
    /// Whether it has a connection to a relay.
    pub connected: bool,
    /// Whether it is mining.
    pub mining: bool,
}

/// One event of the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayEvent {
    /// A frame the client sent (`out: true`) to a relay or received from one.
    Message {
        /// Simulated ms since the recording began.
        t: u64,
        /// The client's index among the recorded clients.
        client: usize,
        /// Sent by the client.
        out: bool,
        /// The frame's command.
        command: String,
    },
    /// The client's badge changed.
    Badge {
        /// Simulated ms since the recording began.
        t: u64,
        /// The client's index among the recorded clients.
        client: usize,
        /// The badge now.
        badge: Badge,
    },
}

/// A run being recorded: which simulator nodes are the clients, and what happened to them.
#[derive(Debug, Clone)]
pub struct Recording {
    start: u64,
    /// Simulator index → position among the clients.
    clients: BTreeMap<usize, usize>,
    badges: Vec<Badge>,
    open_links: Vec<usize>,
    /// The events so far, in time order.
    pub events: Vec<ReplayEvent>,
    /// Whether events were left out because [`MAX_EVENTS`] was reached.
    pub full: bool,
}

impl Recording {
    /// Starts recording at simulated time `now`; `clients` are the simulator indices of
    /// the nodes the map shows (every other node is a relay).
    pub fn new(now: u64, clients: &[usize]) -> Result<Self, RecordingError> {
        if clients.len() > MAX_NODES {
            return Err(RecordingError::TooManyNodes(clients.len()));
        }
        Ok(Recording {
            start: now,
            clients: clients.iter().enumerate().map(|(k, &i)| (i, k)).collect(),
            badges: alloc::vec![Badge::default(); clients.len()],
            open_links: alloc::vec![0; clients.len()],
            events: Vec::new(),
            full: false,
        })
    }

    fn push(&mut self, e: ReplayEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.full = true;
            return;
        }
        self.events.push(e);
    }

    fn t(&self, now: u64) -> u64 {
        now.saturating_sub(self.start)
    }

    /// A frame of `command` went from simulator node `from` to node `to`.
    pub fn frame(&mut self, now: u64, from: usize, to: usize, command: &str) {
        let (client, out) = match (self.clients.get(&from), self.clients.get(&to)) {
            (Some(&c), None) => (c, true),
            (None, Some(&c)) => (c, false),
            _ => return,
        };
        if command == "ping" || command == "pong" {
            return;
        }
        let shown = if (1..=MAX_COMMAND).contains(&command.len())
            && command.bytes().all(|b| b.is_ascii_lowercase())
        {
            command
        } else {
            "other"
        };
        let t = self.t(now);
        self.push(ReplayEvent::Message {
            t,
            client,
            out,
            command: shown.into(),
        });
    }

    /// A connection of simulator node `node` opened (`up`) or closed.
    pub fn link(&mut self, now: u64, node: usize, up: bool) {
        let Some(&c) = self.clients.get(&node) else {
            return;
        };
        let n = &mut self.open_links[c];
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
        let connected = *n > 0;
        let badge = Badge {
            connected,
            ..self.badges[c]
        };
        self.set_badge(now, c, badge);
    }

    /// Simulator node `node`'s height and mining now (recorded when they changed).
    pub fn state(&mut self, now: u64, node: usize, height: u64, mining: bool) {
        let Some(&c) = self.clients.get(&node) else {
            return;
        };
        let badge = Badge {
            height,
            mining,
            ..self.badges[c]
        };
        self.set_badge(now, c, badge);
    }

    fn set_badge(&mut self, now: u64, client: usize, badge: Badge) {
        if self.badges[client] == badge {
            return;
        }
        self.badges[client] = badge;
        let t = self.t(now);
        self.push(ReplayEvent::Badge { t, client, badge });
    }

    /// The lab's name of the client at position `k`.
    pub fn node_name(k: usize) -> String {
        format!("n{}", k + 1)
    }

    /// The recording as the lab's JSON file.
    pub fn to_json(&self) -> String {
        let mut out = format!("{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"nodes\":[");
        for k in 0..self.clients.len() {
            let sep = if k == 0 { "" } else { "," };
            let _ = write!(out, "{sep}\"{}\"", Self::node_name(k));
        }
        out.push_str("],\"events\":[");
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = match e {
                ReplayEvent::Message {
                    t,
                    client,
                    out: sent,
                    command,
                } => write!(
                    out,
                    "{{\"t\":{t},\"node\":\"{}\",\"message\":{{\"direction\":\"{}\",\"command\":\"{command}\"}}}}",
                    Self::node_name(*client),
                    if *sent { "out" } else { "in" },
                ),
                ReplayEvent::Badge { t, client, badge } => write!(
                    out,
                    "{{\"t\":{t},\"node\":\"{}\",\"badge\":{{\"height\":{},\"connected\":{},\"cut\":false,\"mining\":{}}}}}",
                    Self::node_name(*client),
                    badge.height,
                    badge.connected,
                    badge.mining,
                ),
            };
        }
        out.push_str("]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_client_relay_frames_are_messages_and_badges_record_changes() {
        // Nodes 0 and 1 are relays, 2 and 3 clients.
        let mut r = Recording::new(1_000, &[2, 3]).expect("two clients");
        r.link(1_000, 2, true);
        r.frame(1_010, 0, 1, "inv"); // relay to relay: not on the map
        r.frame(1_020, 2, 0, "getdata");
        r.frame(1_030, 1, 3, "block");
        r.frame(1_040, 2, 0, "ping");
        r.frame(1_050, 0, 2, "Version\"<b>");
        r.state(1_060, 3, 5, false);
        r.state(1_070, 3, 5, false); // unchanged: nothing recorded
        r.link(1_080, 2, false);
        let kinds: Vec<String> = r
            .events
            .iter()
            .map(|e| match e {
                ReplayEvent::Message {
                    t,
                    client,
                    out,
                    command,
                } => format!("{t} {client} {out} {command}"),
                ReplayEvent::Badge { t, client, badge } => {
                    format!("{t} {client} h{} c{}", badge.height, badge.connected)
                }
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "0 0 h0 ctrue",
                "20 0 true getdata",
                "30 1 false block",
                "50 0 false other",
                "60 1 h5 cfalse",
                "80 0 h0 cfalse",
            ]
        );
        let json = r.to_json();
        assert!(json.starts_with(
            r#"{"format":"blockchain-lab-recording","version":1,"nodes":["n1","n2"],"events":["#
        ));
        assert!(json
            .contains(r#"{"t":20,"node":"n1","message":{"direction":"out","command":"getdata"}}"#));
        assert!(!json.contains('<'), "no peer text reaches the file: {json}");
    }

    #[test]
    fn a_recording_stops_at_the_labs_limits() {
        assert_eq!(
            Recording::new(0, &[0; MAX_NODES + 1]).map(|_| ()),
            Err(RecordingError::TooManyNodes(MAX_NODES + 1))
        );
        let mut r = Recording::new(0, &[1]).expect("one client");
        for t in 0..(MAX_EVENTS as u64 + 5) {
            r.frame(t, 1, 0, "tx");
        }
        assert_eq!(r.events.len(), MAX_EVENTS);
        assert!(r.full);
    }
}
