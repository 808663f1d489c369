//! Small tools every part of the relay uses: the clock the node runs on, text from peers
//! made safe to log, the log's set-up, and the barrier that turns a panic in a decoder into an error.
//!
//! May depend on: nothing else in this crate.

pub mod clock;
pub mod logging;
pub mod panic_barrier;
pub mod peer_text;

pub use clock::now_ms;
