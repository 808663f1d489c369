//! Text a peer chose — node ids, URLs, user agents, reject and close reasons — made safe to
//! show to people.
//!
//! Such text reaches the log and any page that shows it. Written as it came, a newline lets a
//! peer forge whole log lines ("...\n2026-01-01T00:00:00Z  INFO block connected"), an ANSI
//! escape repaints the operator's terminal, and Unicode bidirectional overrides or look-alike
//! letters make one node's id read as another's. [`PeerText`] shows printable ASCII as it is
//! and every other character as an escape (`\n`, `\u{202e}`), a backslash as `\\` so an
//! escape cannot be faked either, and cuts long text: whatever a peer sends, it is one piece
//! of one line, in characters that mean only themselves. Every place that logs or displays
//! a peer's string goes through it.

use std::fmt;

/// Characters of a peer's text shown at most; protocol strings are up to 256 bytes, and a
/// log line needs no more than this to tell nodes apart.
pub const MAX_SHOWN_CHARS: usize = 96;

/// A peer's text, displayed escaped and capped (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct PeerText<'a>(&'a str);

/// Wraps `text` for display.
pub fn peer_text(text: &str) -> PeerText<'_> {
    PeerText(text)
}

impl fmt::Display for PeerText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, (at, c)) in self.0.char_indices().enumerate() {
            if shown == MAX_SHOWN_CHARS {
                let rest = self.0.len() - at;
                return write!(f, "...(+{rest} bytes)");
            }
            match c {
                '\\' => f.write_str("\\\\")?,
                ' '..='~' => write!(f, "{c}")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                other => write!(f, "\\u{{{:x}}}", u32::from(other))?,
            }
        }
        Ok(())
    }
}

/// [`PeerText`] as an owned string.
pub fn shown(text: &str) -> String {
    peer_text(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_on_one_line() {
        let forged = "relay-a\n2026-01-01T00:00:00Z  INFO forged\r\x1b[2J\u{202e}dnoces\u{2066}";
        let out = shown(forged);
        assert_eq!(
            out,
            "relay-a\\n2026-01-01T00:00:00Z  INFO forged\\r\\u{1b}[2J\\u{202e}dnoces\\u{2066}"
        );
        assert!(out.bytes().all(|b| (b' '..=b'~').contains(&b)));
    }

    #[test]
    fn look_alike_letters_and_fake_escapes_do_not_pass_as_others() {
        // Cyrillic 'а' is not Latin 'a'; a literal backslash-n is not a newline escape.
        assert_eq!(shown("relаy"), "rel\\u{430}y");
        assert_ne!(shown("a\\nb"), shown("a\nb"));
    }

    #[test]
    fn long_text_is_cut() {
        let long = "x".repeat(300);
        let out = shown(&long);
        assert!(out.starts_with(&"x".repeat(MAX_SHOWN_CHARS)));
        assert!(out.ends_with("...(+204 bytes)"), "{out}");
        assert_eq!(shown("short"), "short");
    }
}
