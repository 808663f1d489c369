//! `str::escape_default` as a `Display`, written out: the standard one costs the page's wasm
//! module about 1.3 KB for the few error messages that quote outside text.

use core::fmt::{self, Write};

/// Shows a string as [`str::escape_default`] does: printable ASCII as it is, tab, carriage
/// return and line feed as `\t`, `\r`, `\n`, the backslash and both quotes with a backslash
/// before them, every other character as `\u{hex}`.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                '\\' | '\'' | '"' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                ' '..='~' => f.write_char(c)?,
                _ => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;
    use alloc::format;

    #[test]
    fn matches_escape_default() {
        for s in [
            "",
            "plain text 123 ~!@#",
            "tab\there\r\nnew",
            "quotes ' \" and \\ backslash",
            "\u{0}\u{7f}\u{80}é\u{202e}\u{200b}\u{10ffff}😀",
        ] {
            assert_eq!(format!("{}", Escaped(s)), format!("{}", s.escape_default()));
        }
    }
}
