//! The one error type of the seed's commands: every failure a user can cause or meet, each
//! with the context needed to act on it, printed as one line.

use std::path::PathBuf;
use std::time::Duration;

use node_core::wallet::WalletError;
use node_core::AddressError;

use node_core::BlockHash;

use super::wallet_file::WalletFileError;
use crate::store::reindex::RebuildError;
use crate::store::StoreError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A string given as an address is not one.
    #[error("invalid {role} '{input}': {source}")]
    InvalidAddress {
        /// Which argument ("sender address", ...).
        role: &'static str,
        /// What was given.
        input: String,
        /// Why it is not an address.
        source: AddressError,
    },
    /// The command needs a chain and there is none.
    #[error("No existing blockchain found. Create one first.")]
    NoChain,
    /// createblockchain on a node that has one.
    #[error("Blockchain already exists.")]
    ChainExists,
    /// `send --from` names an address whose key this node does not hold.
    #[error("address '{address}' is not in this node's wallet ({wallet})")]
    NotInWallet {
        /// The address.
        address: String,
        /// The wallet file searched.
        wallet: PathBuf,
    },
    /// The payment cannot be built (not enough funds, zero amount).
    #[error("{0}")]
    Payment(WalletError),
    /// The node refused the transaction.
    #[error("transaction refused: {0}")]
    TxRefused(String),
    /// The block mined for `send --mine` was not connected.
    #[error("mined block refused: {0}")]
    BlockRefused(String),
    /// The command cannot be handed to a running node.
    #[error("{0} cannot run while the node is running on this id; stop it first")]
    NotWhileRunning(&'static str),
    /// A bad command-line value that clap could not check.
    #[error("{0}")]
    BadArgument(String),
    /// The chain store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The wallet file failed.
    #[error(transparent)]
    Wallet(#[from] WalletFileError),
    /// `reindexutxo` found nothing valid to rebuild from.
    #[error("cannot rebuild the chain: {0}")]
    Rebuild(#[from] RebuildError),
    /// Talking to the relay failed, or it refused the transaction.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The running node's control endpoint failed.
    #[error("control endpoint: {0}")]
    Control(String),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The running node refused the command; its message, as a local run prints it.
    #[error("{0}")]
    Remote(String),
    /// The running node hit an error it cannot continue from.
    #[error("node stopped: {0}")]
    Fatal(String),
}

impl CliError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }

    /// The message on one line, as the CLI prints it.
    pub fn one_line(&self) -> String {
        let s = self.to_string();
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Why the relay did not take a payment handed to it ([`super::Step::Relay`], carried out
/// by the CLI's WebSocket client).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay could not be reached.
    #[error("cannot reach the relay at {url}: {what}")]
    Connect {
        /// Where.
        url: String,
        /// What went wrong.
        what: String,
    },
    /// The relay is on another network.
    #[error("the relay is on another chain (its genesis is {theirs}, ours is {ours})")]
    WrongNetwork {
        /// Our genesis.
        ours: BlockHash,
        /// Theirs.
        theirs: BlockHash,
    },
    /// The connection ended before the relay answered.
    #[error("the relay closed the connection before answering: {0}")]
    Closed(String),
    /// The relay refused the transaction.
    #[error("the relay refused the transaction: {0}")]
    Rejected(String),
    /// The relay kept the transaction aside: it does not know the coins it spends.
    #[error(
        "the relay does not know the coins this payment spends \
         (is this node's chain behind the relay's? start it with --peer to sync)"
    )]
    NotKept,
    /// The relay said nothing in time.
    #[error("the relay did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
}

/// Parses an address argument, naming its role in the error.
pub fn parse_address(role: &'static str, input: &str) -> Result<node_core::Address, CliError> {
    input
        .trim()
        .parse()
        .map_err(|source| CliError::InvalidAddress {
            role,
            input: input.to_string(),
            source,
        })
}
