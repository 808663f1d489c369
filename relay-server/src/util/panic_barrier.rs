//! Panics in code that reads what the disk holds, turned into errors.
//!
//! redb checks much of what it reads, but not all: a chain file cut short (a full disk, a
//! bad copy) makes `Database::open` fail an assertion, and a damaged page can do the same
//! deeper down. A node must say in one line that its file is damaged, not print a panic
//! and a backtrace. [`barrier`] runs such code, catches a panic and returns its message;
//! the hook installed by [`install_hook`] keeps those caught panics quiet, and prints any
//! other panic as one line.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// Whether this thread is inside [`barrier`].
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// The message a panic carried.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".into())
}

/// Runs `f`; a panic inside it comes back as `Err(its message)`. What `f` touched must be
/// thrown away on `Err` (the callers drop the database handle).
pub fn barrier<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = INSIDE.with(|i| i.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    INSIDE.with(|i| i.set(was));
    result.map_err(|payload| message(payload.as_ref()))
}

/// Installs the process's panic hook: silent inside [`barrier`] (the caller reports the
/// failure), one line on stderr anywhere else.
pub fn install_hook() {
    panic::set_hook(Box::new(|info| {
        if INSIDE.with(Cell::get) {
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = message(info.payload())
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("error: internal failure{at}: {what}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_comes_back_as_its_message() {
        assert_eq!(barrier(|| 7), Ok(7));
        let caught = barrier(|| -> u8 { panic!("assertion failed: file too short") });
        assert_eq!(caught, Err("assertion failed: file too short".into()));
        let formatted = barrier(|| -> u8 { panic!("page {} damaged", 3) });
        assert_eq!(formatted, Err("page 3 damaged".into()));
    }
}
