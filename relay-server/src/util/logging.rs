//! The log: lines on stderr filtered by `RUST_LOG` (default `info`), as text for a person
//! or as one JSON object a line for a log collector (`--log-format json`): the fields each
//! line already carries (`peer`, `ip`, `height`...) become the object's keys, so a
//! collector can search on them without parsing sentences.

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text each, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object each: `timestamp`, `level`, `target`, `fields` (with `message`).
    Json,
}

/// Installs the log for the whole process. A `RUST_LOG` that does not parse is said once
/// on stderr, and the default filter is used.
pub fn init(format: LogFormat) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG '{spec}' does not parse ({e}); using '{DEFAULT_FILTER}'");
            EnvFilter::new(DEFAULT_FILTER)
        }),
        Err(_) => EnvFilter::new(DEFAULT_FILTER),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}
