//! Where a node's files live: named after its id as the seed names them.

use std::path::{Path, PathBuf};

/// The files of one node id in one data directory.
#[derive(Debug, Clone)]
pub struct DataPaths {
    dir: PathBuf,
    node_id: String,
}

impl DataPaths {
    /// Files of `node_id` in `dir` (the current directory when `None`).
    pub fn new(dir: Option<PathBuf>, node_id: String) -> Self {
        DataPaths {
            dir: dir.unwrap_or_else(|| PathBuf::from(".")),
            node_id,
        }
    }

    /// The seed's NODE_ID.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `blockchain_<ID>.db`, the redb chain store.
    pub fn chain_db(&self) -> PathBuf {
        self.dir.join(format!("blockchain_{}.db", self.node_id))
    }

    /// `wallet_<ID>.dat`, the secret keys.
    pub fn wallet(&self) -> PathBuf {
        self.dir.join(format!("wallet_{}.dat", self.node_id))
    }

    /// `.cookie_<ID>`, the control endpoint's secret while `startnode` runs.
    pub fn cookie(&self) -> PathBuf {
        self.dir.join(format!(".cookie_{}", self.node_id))
    }

    /// `node_<ID>.addr`, where the running node listens.
    pub fn addr(&self) -> PathBuf {
        self.dir.join(format!("node_{}.addr", self.node_id))
    }
}

/// Whether `id` is usable as a node id and inside file names.
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
