//! The wallet file `wallet_<ID>.dat`: this node's secret keys, the seed's `Wallets`.
//!
//! One key per line as 64 hex digits of the secret scalar, after a format line. The file is
//! replaced atomically (write a temporary file, fsync it, rename it over the old one, fsync
//! the directory), so a crash while adding a key never loses the keys already there. It is
//! created readable by its owner only. Keys never leave this file except to sign inside this
//! process: nothing here is sent over the network or the control endpoint.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use node_core::{Address, KeyPair, PubKeyHash};
use rand_core::OsRng;

/// First line of every wallet file.
const HEADER: &str = "# blockchain wallet v1: one P-256 secret key per line, hex";

/// Why the wallet file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WalletFileError {
    /// Reading or writing failed.
    #[error("wallet file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file does not hold what this program writes.
    #[error("wallet file {path} is corrupt at line {line}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// The keys of one node.
pub struct Wallet {
    path: PathBuf,
    keys: Vec<KeyPair>,
}

impl Wallet {
    /// Loads the wallet at `path`; a missing file is an empty wallet.
    pub fn load(path: &Path) -> Result<Self, WalletFileError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(WalletFileError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let corrupt = |line, what| WalletFileError::Corrupt {
            path: path.to_path_buf(),
            line,
            what,
        };
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let secret = node_core::Hash256::from_hex(line)
                .ok_or_else(|| corrupt(i + 1, "not 64 hex digits"))?;
            let key = KeyPair::from_secret_bytes(&secret.0)
                .ok_or_else(|| corrupt(i + 1, "not a valid P-256 secret key"))?;
            keys.push(key);
        }
        Ok(Wallet {
            path: path.to_path_buf(),
            keys,
        })
    }

    /// Every address, in creation order.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.iter().map(KeyPair::address).collect()
    }

    /// The key of an address, if this wallet holds it.
    pub fn key_for(&self, owner: &PubKeyHash) -> Option<&KeyPair> {
        self.keys.iter().find(|k| k.pubkey_hash() == *owner)
    }

    /// Makes a new key from the system's random source, saves the file, returns the address.
    pub fn create_key(&mut self) -> Result<Address, WalletFileError> {
        let key = KeyPair::generate(&mut OsRng);
        let address = key.address();
        self.keys.push(key);
        if let Err(e) = self.save() {
            self.keys.pop();
            return Err(e);
        }
        Ok(address)
    }

    /// Replaces the file atomically with the current keys.
    fn save(&self) -> Result<(), WalletFileError> {
        let io = |source| WalletFileError::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = String::from(HEADER);
        text.push('\n');
        for k in &self.keys {
            for b in k.secret_bytes() {
                text.push_str(&format!("{b:02x}"));
            }
            text.push('\n');
        }
        let tmp = self.path.with_extension("dat.tmp");
        {
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        fs::rename(&tmp, &self.path).map_err(io)?;
        // The rename itself must survive a crash too.
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    #[test]
    fn keys_survive_a_reload_and_the_file_is_private() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wallet_1.dat");
        let mut w = Wallet::load(&path)?;
        let a = w.create_key()?;
        let b = w.create_key()?;
        let back = Wallet::load(&path)?;
        assert_eq!(back.addresses(), vec![a, b]);
        assert!(back.key_for(&a.0).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path)?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn a_damaged_line_is_reported_with_its_number() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wallet_2.dat");
        fs::write(&path, format!("{HEADER}\nzz\n"))?;
        let err = Wallet::load(&path)
            .err()
            .ok_or("a damaged file was accepted")?;
        assert!(err.to_string().contains("line 2"), "{err}");
        Ok(())
    }
}
