//! The lab's "stop and restart the relay", for real: the lab asks ([`RestartHook::request`]),
//! `startnode` stops the way a signal stops it (the hub finishes, the database is closed,
//! every peer's connection ends, the cookie files go), stays down the seconds asked for, and
//! then runs itself again with the same arguments ([`run_again`]): a new process image that
//! starts from its database, as after an operator's restart. The lab's nodes see the relay
//! vanish and come back, reconnect, and converge.
//!
//! The new process writes a new cookie, so the lab key changes: a key taken before the
//! restart is refused after it (the lab page asks for the new one).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Longest the lab may keep the relay down: long enough to watch the nodes notice, short
/// enough that a mistaken click costs little.
pub const MAX_RESTART_DOWN_SECS: u64 = 30;

/// Why a restart was not started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestartError {
    /// Past [`MAX_RESTART_DOWN_SECS`].
    #[error("the relay may stay down at most {MAX_RESTART_DOWN_SECS} s")]
    TooLong,
    /// A restart is already under way.
    #[error("the relay is already restarting")]
    AlreadyRestarting,
    /// Nothing runs the relay that could restart it.
    #[error("this relay cannot restart itself")]
    NotRunning,
    /// The relay listens on a port the system chose: started again, it would get another.
    #[error("the relay listens on a port the system chose (--listen HOST:0); start it with a fixed port to restart it from the lab")]
    ChosenPort,
}

/// The lab's way to ask the running `startnode` for a restart.
#[derive(Clone)]
pub struct RestartHook {
    asks: Arc<watch::Sender<Option<Duration>>>,
    /// Whether the relay would come back on the same address.
    fixed_port: bool,
}

/// What `startnode` waits on: resolves with how long to stay down once a restart is asked.
pub struct RestartRequests(watch::Receiver<Option<Duration>>);

impl RestartHook {
    /// A hook and the requests it makes; `fixed_port`: the relay was told its port, so a
    /// new run listens where this one did.
    pub fn new(fixed_port: bool) -> (RestartHook, RestartRequests) {
        let (tx, rx) = watch::channel(None);
        let hook = RestartHook {
            asks: Arc::new(tx),
            fixed_port,
        };
        (hook, RestartRequests(rx))
    }

    /// Asks for a restart with the relay down `down_secs` seconds in between.
    pub fn request(&self, down_secs: u64) -> Result<(), RestartError> {
        if down_secs > MAX_RESTART_DOWN_SECS {
            return Err(RestartError::TooLong);
        }
        if !self.fixed_port {
            return Err(RestartError::ChosenPort);
        }
        if self.asks.is_closed() {
            return Err(RestartError::NotRunning);
        }
        let mut asked = false;
        self.asks.send_if_modified(|r| {
            if r.is_some() {
                return false;
            }
            *r = Some(Duration::from_secs(down_secs));
            asked = true;
            true
        });
        if asked {
            Ok(())
        } else {
            Err(RestartError::AlreadyRestarting)
        }
    }
}

impl RestartRequests {
    /// Resolves when a restart is asked for, with how long to stay down; never if the
    /// hook is gone.
    pub async fn asked(&mut self) -> Duration {
        loop {
            if let Some(d) = *self.0.borrow_and_update() {
                return d;
            }
            if self.0.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

/// Replaces this process with a new run of the same program and arguments. Returns only
/// if that failed. Files and sockets the old run had are closed by the exec (Rust opens
/// them close-on-exec), so the new run opens its database as after any restart.
#[cfg(unix)]
pub fn run_again() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return e,
    };
    std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .exec()
}

/// Replaces this process with a new run: not done on this platform.
#[cfg(not(unix))]
pub fn run_again() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "restarting in place needs a Unix system",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_restart_is_asked_once_and_within_its_limit() {
        let (hook, _) = RestartHook::new(false);
        assert_eq!(hook.request(1), Err(RestartError::ChosenPort));
        let (hook, mut requests) = RestartHook::new(true);
        assert_eq!(
            hook.request(MAX_RESTART_DOWN_SECS + 1),
            Err(RestartError::TooLong)
        );
        assert_eq!(hook.request(2), Ok(()));
        assert_eq!(hook.request(1), Err(RestartError::AlreadyRestarting));
        assert_eq!(requests.asked().await, Duration::from_secs(2));
        drop(requests);
        let (hook, requests) = RestartHook::new(true);
        drop(requests);
        assert_eq!(hook.request(1), Err(RestartError::NotRunning));
    }
}
