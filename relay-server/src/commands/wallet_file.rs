//! The wallet file `wallet_<ID>.dat`: this node's secret keys, the seed's `Wallets`.
//!
//! One key per line as 64 hex digits of the secret scalar, after a format line. Adding a key
//! holds an exclusive lock ([`WalletLock`]) from reading the file to replacing it, so two
//! processes adding keys at once take turns instead of each writing its own copy over the
//! other's; and the file is replaced atomically (write a temporary file, fsync it, rename it
//! over the old one, fsync the directory) before the new address is returned, so no address
//! is ever printed whose key a crash could still lose. It is created readable by its owner
//! only. Keys never leave this file except to sign inside this process: nothing here is sent
//! over the network or the control endpoint.
//!
//! A line that does not hold a key (an editor's slip, a damaged sector) costs that line's
//! key only: the other keys load, the line is reported with its number, and it is written
//! back unchanged whenever the file is rewritten, so nothing is lost that could be repaired.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use node_core::{Address, KeyPair, PubKeyHash};
use rand_core::OsRng;

/// First line of every wallet file.
const HEADER: &str = "# blockchain wallet v1: one P-256 secret key per line, hex";

/// Largest wallet file read: 65 bytes a key, so room for a million keys. A larger file is
/// not one this program wrote, and reading it whole could exhaust memory.
pub const MAX_WALLET_FILE_BYTES: u64 = 64 << 20;

/// How long adding a key waits for another process adding one: far longer than writing a
/// file takes, short enough that a stuck process is reported rather than waited for.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How often a waiting process tries the lock again.
const LOCK_RETRY: Duration = Duration::from_millis(5);

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
    /// The file is larger than any wallet this program writes.
    #[error("wallet file {path} is {size} bytes, more than the {MAX_WALLET_FILE_BYTES} a wallet can be: not read")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Another process is adding a key and did not finish in time.
    #[error("wallet file {path} is being changed by another process (waited {} s); try again", LOCK_WAIT.as_secs())]
    Busy {
        /// The file.
        path: PathBuf,
    },
}

/// A line of the file that holds no usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub what: &'static str,
    /// The line as it is in the file, written back unchanged.
    raw: Vec<u8>,
}

/// One line of the file, in order.
enum Line {
    Key(KeyPair),
    Damaged(DamagedLine),
}

/// The keys of one node.
pub struct Wallet {
    path: PathBuf,
    lines: Vec<Line>,
}

impl Wallet {
    /// Loads the wallet at `path`; a missing file is an empty wallet. Lines that hold no
    /// key are kept aside (see [`Wallet::damaged`]) and logged; the other keys are usable.
    pub fn load(path: &Path) -> Result<Self, WalletFileError> {
        let io = |source| WalletFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = match fs::File::open(path) {
            Ok(file) => {
                let size = file.metadata().map_err(io)?.len();
                if size > MAX_WALLET_FILE_BYTES {
                    return Err(WalletFileError::TooLarge {
                        path: path.to_path_buf(),
                        size,
                    });
                }
                let mut bytes = Vec::new();
                file.take(MAX_WALLET_FILE_BYTES)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                bytes
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(io(source)),
        };
        let mut lines = Vec::new();
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let text = std::str::from_utf8(raw).map(str::trim);
            let parsed = match text {
                Ok(t) if t.is_empty() || t.starts_with('#') => continue,
                Ok(t) => parse_key(t),
                Err(_) => Err("not text"),
            };
            match parsed {
                Ok(key) => lines.push(Line::Key(key)),
                Err(what) => {
                    let damaged = DamagedLine {
                        line: i + 1,
                        what,
                        raw: raw.to_vec(),
                    };
                    tracing::warn!(
                        "wallet file {} line {} holds no key ({what}): its key cannot be \
                         used; the line is kept as it is",
                        path.display(),
                        i + 1
                    );
                    lines.push(Line::Damaged(damaged));
                }
            }
        }
        Ok(Wallet {
            path: path.to_path_buf(),
            lines,
        })
    }

    fn keys(&self) -> impl Iterator<Item = &KeyPair> {
        self.lines.iter().filter_map(|l| match l {
            Line::Key(k) => Some(k),
            Line::Damaged(_) => None,
        })
    }

    /// Every address, in creation order.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys().map(KeyPair::address).collect()
    }

    /// Lines that hold no usable key.
    pub fn damaged(&self) -> Vec<&DamagedLine> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Damaged(d) => Some(d),
                Line::Key(_) => None,
            })
            .collect()
    }

    /// The key of an address, if this wallet holds it.
    pub fn key_for(&self, owner: &PubKeyHash) -> Option<&KeyPair> {
        self.keys().find(|k| k.pubkey_hash() == *owner)
    }

    /// Makes a new key from the system's random source and adds it to the wallet at `path`;
    /// returns its address only once the file holding it is on disk. Other processes adding
    /// keys to the same wallet wait for this one, and it for them (up to [`LOCK_WAIT`]).
    pub fn create_key(path: &Path) -> Result<Address, WalletFileError> {
        let _lock = WalletLock::acquire(path)?;
        let mut wallet = Wallet::load(path)?;
        let key = KeyPair::generate(&mut OsRng);
        let address = key.address();
        wallet.lines.push(Line::Key(key));
        wallet.save()?;
        Ok(address)
    }

    /// Replaces the file atomically with the current lines; call with the lock held.
    fn save(&self) -> Result<(), WalletFileError> {
        let io = |source| WalletFileError::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = Vec::from(HEADER.as_bytes());
        text.push(b'\n');
        for line in &self.lines {
            match line {
                Line::Key(k) => {
                    for b in k.secret_bytes() {
                        text.extend_from_slice(format!("{b:02x}").as_bytes());
                    }
                }
                Line::Damaged(d) => text.extend_from_slice(&d.raw),
            }
            text.push(b'\n');
        }
        let tmp = self.path.with_extension("dat.tmp");
        // A temporary file left by a crash (or put there) is never written through: it is
        // removed and created afresh, so a link there cannot redirect the keys elsewhere.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        {
            let mut f = private_options().open(&tmp).map_err(io)?;
            f.write_all(&text).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        fs::rename(&tmp, &self.path).map_err(io)?;
        // The rename itself must survive a crash too.
        sync_dir(&self.path).map_err(io)
    }
}

/// Options creating a new file readable by its owner only; never an existing one.
fn private_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Flushes the directory holding `path`, so a rename into it is durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened as files here; the rename is as durable as it gets.
        let _ = dir;
        Ok(())
    }
}

fn parse_key(text: &str) -> Result<KeyPair, &'static str> {
    let secret = node_core::Hash256::from_hex(text).ok_or("not 64 hex digits")?;
    KeyPair::from_secret_bytes(&secret.0).ok_or("not a valid P-256 secret key")
}

/// An exclusive lock on a wallet, held from reading it to replacing it. It is taken on a
/// separate file, `wallet_<ID>.dat.lock`, since the wallet itself is replaced (a lock on the
/// replaced file would not stop the next process). The operating system releases it when
/// the process ends, however it ends, so a crash never leaves the wallet locked.
pub struct WalletLock {
    /// Held open: closing it releases the lock.
    _file: fs::File,
    #[cfg(not(unix))]
    path: PathBuf,
}

impl WalletLock {
    /// Waits up to [`LOCK_WAIT`] for the lock of the wallet at `wallet`.
    pub fn acquire(wallet: &Path) -> Result<Self, WalletFileError> {
        let path = wallet.with_extension("dat.lock");
        let io = |source| WalletFileError::Io {
            path: path.clone(),
            source,
        };
        let started = Instant::now();
        loop {
            match Self::try_acquire(&path) {
                Ok(Some(lock)) => return Ok(lock),
                Ok(None) if started.elapsed() < LOCK_WAIT => std::thread::sleep(LOCK_RETRY),
                Ok(None) => {
                    return Err(WalletFileError::Busy {
                        path: wallet.to_path_buf(),
                    })
                }
                Err(e) => return Err(io(e)),
            }
        }
    }

    #[cfg(unix)]
    fn try_acquire(path: &Path) -> std::io::Result<Option<Self>> {
        use rustix::fs::{flock, FlockOperation};
        use std::os::unix::fs::OpenOptionsExt;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(WalletLock { _file: file })),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Without `flock`: the lock is the file's existence (a crash leaves it behind, and the
    /// error names it).
    #[cfg(not(unix))]
    fn try_acquire(path: &Path) -> std::io::Result<Option<Self>> {
        match private_options().open(path) {
            Ok(file) => Ok(Some(WalletLock {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(not(unix))]
impl Drop for WalletLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
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
        let a = Wallet::create_key(&path)?;
        let b = Wallet::create_key(&path)?;
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
    fn a_damaged_line_costs_its_own_key_only_and_is_kept() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wallet_2.dat");
        let a = Wallet::create_key(&path)?;
        let mut text = fs::read(&path)?;
        text.extend_from_slice(b"zz\n\xff\xfe binary\n");
        fs::write(&path, &text)?;
        let b = Wallet::create_key(&path)?;
        let back = Wallet::load(&path)?;
        assert_eq!(back.addresses(), vec![a, b]);
        let damaged: Vec<usize> = back.damaged().iter().map(|d| d.line).collect();
        assert_eq!(damaged, vec![3, 4]);
        let after = fs::read(&path)?;
        assert!(
            after.windows(12).any(|w| w == b"zz\n\xff\xfe binary"),
            "damaged lines are written back as they were"
        );
        Ok(())
    }

    #[test]
    fn a_file_far_larger_than_a_wallet_is_not_read() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wallet_3.dat");
        fs::File::create(&path)?.set_len(MAX_WALLET_FILE_BYTES + 1)?;
        let err = Wallet::load(&path).err().ok_or("a huge file was read")?;
        assert!(err.to_string().contains("more than"), "{err}");
        Ok(())
    }

    #[test]
    fn a_file_left_at_the_temporary_name_is_replaced_not_written_through() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("wallet_4.dat");
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, b"untouched")?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(&elsewhere, path.with_extension("dat.tmp"))?;
        Wallet::create_key(&path)?;
        assert_eq!(fs::read(&elsewhere)?, b"untouched");
        assert_eq!(Wallet::load(&path)?.addresses().len(), 1);
        Ok(())
    }
}
