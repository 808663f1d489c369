//! The seed's spelling of flags: Go's `flag` package takes `-address X` as readily as
//! `--address X`, and the article's readers type `createblockchain -address X`,
//! `send -from A -to B -amount 1 -mine`, `startnode -miner X`. clap would read `-address`
//! as the short flags `-a -d -d ...` and fail on the first.
//!
//! [`long_flags`] rewrites, before clap parses, every `-name` or `-name=value` whose `name`
//! is a long flag of the command (or subcommand) it follows into `--name`. It walks the
//! arguments as clap will: after a flag that takes a value, the next argument is that value
//! and is left alone (a node id may begin with `-`); after `--` nothing is rewritten.
//! A single-dash word that names no flag is refused here, by its whole spelling, rather
//! than left for clap to complain about its first letter.

use clap::Command;

use crate::util::peer_text::shown;

/// A single-dash word that is not one of the command's flags. The word is shown escaped
/// and cut ([`shown`]): a look-alike letter reads as `\u{430}`, and an escape sequence
/// typed or pasted into the command line does not repaint the terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown flag '{}' for {command} (its flags: {known}; see --help)", shown(.given))]
pub struct UnknownFlagError {
    /// The argument as typed.
    pub given: String,
    /// The (sub)command it followed.
    pub command: String,
    /// The command's long flags, as `--name`.
    pub known: String,
}

/// `args` (without the program name) with the seed's single-dash long flags spelt with two
/// dashes, for `cmd` (which must have been [`Command::build`]t so `--help` is among its
/// flags).
pub fn long_flags<I>(cmd: &Command, args: I) -> Result<Vec<String>, UnknownFlagError>
where
    I: IntoIterator<Item = String>,
{
    let mut out = Vec::new();
    // The (sub)command the arguments belong to; a built subcommand holds the global flags.
    let mut current = cmd;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            out.push(arg);
            out.extend(args.by_ref());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let takes_value = !long.contains('=') && flag_takes_value(current, long);
            out.push(arg);
            if takes_value {
                out.extend(args.next());
            }
            continue;
        }
        if let Some(word) = single_dash_word(&arg) {
            let name = word.split_once('=').map_or(word, |(n, _)| n);
            if find_long(current, name).is_none() {
                return Err(UnknownFlagError {
                    given: arg.clone(),
                    command: current.get_name().to_string(),
                    known: known_flags(current),
                });
            }
            let takes_value = !word.contains('=') && flag_takes_value(current, name);
            out.push(format!("-{arg}"));
            if takes_value {
                out.extend(args.next());
            }
            continue;
        }
        if !arg.starts_with('-') {
            if let Some(sub) = current.find_subcommand(&arg) {
                current = sub;
            }
        }
        out.push(arg);
    }
    Ok(out)
}

/// `word` of `-word` when `arg` looks like a single-dash long flag: a letter after one dash
/// and at least two characters, so `-h`, `-V` and a negative number stay as they are. Any
/// alphabet's letter counts: `-аddress` typed with a Cyrillic `а` is then refused by its
/// whole spelling, not by clap as the short flag `-а`.
fn single_dash_word(arg: &str) -> Option<&str> {
    let word = arg.strip_prefix('-')?;
    if word.starts_with('-') || word.chars().nth(1).is_none() {
        return None;
    }
    word.starts_with(char::is_alphabetic).then_some(word)
}

/// The long flags of `cmd` that `--help` shows, as `--name`.
fn known_flags(cmd: &Command) -> String {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a clap::Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name)
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&name))
    })
}

fn flag_takes_value(cmd: &Command, name: &str) -> bool {
    find_long(cmd, name).is_some_and(|a| a.get_action().takes_values())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn cmd() -> Command {
        let mut cmd = Command::new("relay-server")
            .arg(Arg::new("node-id").long("node-id").global(true))
            .subcommand(
                Command::new("send")
                    .arg(Arg::new("from").long("from"))
                    .arg(Arg::new("amount").long("amount"))
                    .arg(Arg::new("mine").long("mine").action(ArgAction::SetTrue)),
            );
        cmd.build();
        cmd
    }

    fn rewrite(args: &[&str]) -> Result<Vec<String>, UnknownFlagError> {
        long_flags(&cmd(), args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn single_dash_long_flags_get_a_second_dash() {
        let out = rewrite(&["send", "-from", "A", "-amount=3", "-mine"]);
        assert_eq!(
            out,
            Ok(["send", "--from", "A", "--amount=3", "--mine"]
                .map(String::from)
                .to_vec())
        );
    }

    #[test]
    fn a_flags_value_is_never_rewritten_even_when_it_begins_with_a_dash() {
        let out = rewrite(&["-node-id", "-ab", "send", "--from", "-xy"]);
        assert_eq!(
            out,
            Ok(["--node-id", "-ab", "send", "--from", "-xy"]
                .map(String::from)
                .to_vec())
        );
    }

    #[test]
    fn short_flags_numbers_and_everything_after_the_terminator_stay() {
        let out = rewrite(&["send", "-h", "-5", "--", "-mine"]);
        assert_eq!(
            out,
            Ok(["send", "-h", "-5", "--", "-mine"]
                .map(String::from)
                .to_vec())
        );
    }

    #[test]
    fn a_look_alike_letter_or_an_escape_is_named_whole_and_shown_escaped() {
        // A Cyrillic `а` in place of the Latin `a`.
        let err = rewrite(&["send", "-\u{430}mount", "1"]).map(|_| ());
        let err = err.err();
        assert_eq!(
            err.as_ref().map(|e| e.given.as_str()),
            Some("-\u{430}mount")
        );
        let said = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            said.starts_with("unknown flag '-\\u{430}mount' for send"),
            "{said}"
        );
        let err = rewrite(&["send", "-amount\x1b[2J"]).map(|_| ()).err();
        let said = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            said.starts_with("unknown flag '-amount\\u{1b}[2J'"),
            "{said}"
        );
        assert_eq!(
            rewrite(&["send", "-\u{e9}"]),
            Ok(vec!["send".into(), "-\u{e9}".into()])
        );
    }

    #[test]
    fn an_unknown_single_dash_word_is_named_whole() {
        let err = rewrite(&["send", "-form", "A"]).map(|_| ());
        let err = err.err().map(|e| (e.given, e.command));
        assert_eq!(err, Some(("-form".into(), "send".into())));
    }
}
