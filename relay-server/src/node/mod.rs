//! `startnode`: the wiring of a running node — the store opened, the port bound, the control
//! files written, then the hub, the HTTP server and the diallers started and, on a signal,
//! stopped.
//!
//! The only part of the crate that knows every other part; nothing depends on it but
//! `main.rs`.
//!
//! May depend on: everything else in this crate.

pub mod startnode;

pub use startnode::{run, MetricsListen, StartOptions, DIAL_LEARNED};
