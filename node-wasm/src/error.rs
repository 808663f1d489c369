//! The errors a page can see: one enum with the context needed to act on it.
//!
//! Every fallible exported method returns `Result<_, NodeError>`; wasm-bindgen turns the
//! error into a thrown JavaScript `Error` whose message is this enum's `Display`.

use core::fmt;

use node_core::node::SendError;
use node_core::AddressError;

/// Why a node command or its storage failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeError {
    /// A string given as an address is not one.
    InvalidAddress {
        /// The string as given.
        address: String,
        /// What is wrong with it.
        reason: AddressError,
    },
    /// The address is valid but its key is not in this node's wallet.
    NotInWallet(String),
    /// An amount that is not a whole number of coins above zero.
    InvalidAmount(String),
    /// The payment could not be built or was refused by the mempool.
    Send(SendError),
    /// IndexedDB refused or failed an operation.
    Storage(String),
    /// Something stored does not decode (a corrupt or foreign database).
    Corrupt(String),
    /// A browser API failed (WebSocket, Worker, ...).
    Browser(String),
    /// An option passed to `start` is wrong.
    BadOption(String),
    /// Keys handed to `importKeys` are not a wallet's (wrong length, not valid keys).
    BadKeys(String),
    /// The node was closed with `close()`.
    Closed,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::InvalidAddress { address, reason } => {
                write!(
                    f,
                    "invalid address \"{}\": {reason}",
                    node_core::util::escaped::Escaped(address)
                )
            }
            NodeError::NotInWallet(a) => {
                write!(f, "address {a} is not in this wallet (node's keys only)")
            }
            NodeError::InvalidAmount(a) => {
                write!(
                    f,
                    "invalid amount {a}: must be a whole number of coins, at least 1"
                )
            }
            NodeError::Send(e) => write!(f, "{e}"),
            NodeError::Storage(e) => write!(f, "storage error: {e}"),
            NodeError::Corrupt(e) => write!(f, "stored data is corrupt: {e}"),
            NodeError::Browser(e) => write!(f, "browser error: {e}"),
            NodeError::BadOption(e) => write!(f, "bad option: {e}"),
            NodeError::BadKeys(e) => write!(f, "not a wallet's keys: {e}"),
            NodeError::Closed => write!(f, "this node was closed"),
        }
    }
}

impl std::error::Error for NodeError {}

impl From<indexed_db_futures::error::Error> for NodeError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        NodeError::Storage(idb_error_text(&e))
    }
}

impl From<indexed_db_futures::error::OpenDbError> for NodeError {
    fn from(e: indexed_db_futures::error::OpenDbError) -> Self {
        NodeError::Storage(idb_open_error_text(&e))
    }
}

/// What an indexed_db_futures error says, as its `Display` would say it, but with numbers
/// formatted by JavaScript: its `Display` formats them with Rust's float formatting, 9 KB of
/// the page's 200 KB gzipped budget for errors that name a number (BENCHMARKS.md). Nothing
/// here may call that `Display` (or `Debug`), or the formatting is linked again.
pub fn idb_error_text(e: &indexed_db_futures::error::Error) -> String {
    use indexed_db_futures::error::{Error, SerialisationError};
    match e {
        Error::DomException(e) => e.to_string(),
        Error::Serialisation(SerialisationError::SimpleValue(e)) => {
            format!("Simple value parse error: {}", simple_value_text(e))
        }
        Error::Serialisation(SerialisationError::Serde(e)) => e.to_string(),
        Error::MissingData(e) => format!("Missing data: {e}"),
        Error::Unknown(e) => format!("Generic JS error: {e}"),
    }
}

/// [`idb_error_text`] of an error opening a database.
pub fn idb_open_error_text(e: &indexed_db_futures::error::OpenDbError) -> String {
    use indexed_db_futures::error::OpenDbError;
    match e {
        OpenDbError::VersionZero => "Version cannot be zero".into(),
        OpenDbError::UnsupportedEnvironment => "Unsupported environment".into(),
        OpenDbError::NullFactory => "The `indexedDB` getter returned `null` or `undefined`".into(),
        OpenDbError::Base(e) => idb_error_text(e),
    }
}

fn simple_value_text(e: &indexed_db_futures::error::SimpleValueError) -> String {
    use indexed_db_futures::error::SimpleValueError as E;
    let number = |n: f64| {
        String::from(
            js_sys::Number::from(n)
                .to_string_with_radix(10)
                .unwrap_or_default(),
        )
    };
    match e {
        E::NotAString(_) => "Not a string".into(),
        E::NotANumber(_) => "Not a number".into(),
        E::NotABoolean(_) => "Not a boolean".into(),
        E::DynCast(_) => "Dynamic cast failed".into(),
        E::TooLarge(n) => format!("The value is too large: {}", number(*n)),
        E::TooSmall(n) => format!("The value is too small: {}", number(*n)),
        E::Signed(n) => format!("The value is signed: {}", number(*n)),
        E::Switch(all) => {
            // A loop, not a `join`: that links a generic 1.2 KB routine for this line alone.
            let mut line = String::from("Errors performing `TryFromJs` on `Switch`: ");
            if all.is_empty() {
                line.push_str("[empty]");
            }
            for (i, e) in all.iter().enumerate() {
                if i > 0 {
                    line.push_str(", ");
                }
                line.push('`');
                line.push_str(&simple_value_text(e));
                line.push('`');
            }
            line
        }
        E::Other(e) => e.to_string(),
    }
}

/// The message of a thrown JavaScript value, for errors coming back from browser APIs.
pub fn js_message(value: &wasm_bindgen::JsValue) -> String {
    if let Some(e) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(value) {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// Parses an address typed by a user, naming the problem if it is not one.
pub fn parse_address(s: &str) -> Result<node_core::Address, NodeError> {
    s.parse().map_err(|reason| NodeError::InvalidAddress {
        address: s.to_string(),
        reason,
    })
}
