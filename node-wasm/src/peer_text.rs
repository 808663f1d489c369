//! Text that came from outside the tab (peers' node ids, relay URLs, reject and close
//! reasons), made safe to show to a person on the page or in the console.
//!
//! # Why
//! A peer chooses these strings. Shown as they are, a line feed forges a second log line, a
//! right-to-left override (`U+202E`) reverses what follows it, and a zero-width or combining
//! character makes node `3001\u{200b}` look exactly like node `3001`. So every such string
//! passes [`shown`] once, where the views are built ([`crate::views`]): printable ASCII stays
//! as it is, everything else (controls, bidirectional and format characters, any non-ASCII
//! letter that could pass for another) is written out visibly as `\u{…}`, and the text is
//! cut to a length that fits a table cell. node-core's own messages are plain ASCII, so
//! nothing the node says itself is changed.
//!
//! The page inserts every string as text (`textContent`, text nodes, attributes), never as
//! HTML; this module is about what the text looks like, not about markup.

/// Node ids are short names (`3001`, `relay-eu`); a longer one is cut.
pub const MAX_NODE_ID_CHARS: usize = 64;
/// Relay URLs: a host, a port and a path fit easily.
pub const MAX_URL_CHARS: usize = 200;
/// Reasons and one-line summaries: room for a sentence and a few hashes.
pub const MAX_REASON_CHARS: usize = 300;

/// Marks text that was cut at the limit (not ASCII, so a peer cannot fake it: its own
/// `…` would be shown escaped).
const CUT: char = '…';

/// `s` as it may be shown: printable ASCII kept, every other character (and the backslash,
/// so an escape can never be faked) written as `\u{hex}`, at most `max_chars` characters
/// plus a final `…` when cut.
pub fn shown(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars + 4));
    let mut used = 0usize;
    for c in s.chars() {
        let piece_len = if is_plain(c) { 1 } else { escaped_len(c) };
        if used + piece_len > max_chars {
            out.push(CUT);
            return out;
        }
        if is_plain(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
        used += piece_len;
    }
    out
}

/// [`shown`] of an optional string.
pub fn shown_opt(s: Option<&str>, max_chars: usize) -> Option<String> {
    s.map(|s| shown(s, max_chars))
}

/// Printable ASCII other than the backslash.
fn is_plain(c: char) -> bool {
    matches!(c, ' '..='~') && c != '\\'
}

/// Characters `\u{hex}` takes.
fn escaped_len(c: char) -> usize {
    let digits = (32 - (c as u32).leading_zeros()).div_ceil(4).max(1) as usize;
    digits + 4
}

fn push_escaped(out: &mut String, c: char) {
    use core::fmt::Write;
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// Longest console line: a few sentences with URLs and reasons in them.
pub const MAX_CONSOLE_CHARS: usize = 1_000;

/// Writes one warning line to the console, escaped by [`shown`]: whatever a peer put in it,
/// it stays one line and reads left to right.
pub fn console_warn(line: &str) {
    web_sys::console::warn_1(&shown(line, MAX_CONSOLE_CHARS).into());
}

/// Writes one error line to the console, escaped like [`console_warn`].
pub fn console_error(line: &str) {
    web_sys::console::error_1(&shown(line, MAX_CONSOLE_CHARS).into());
}
