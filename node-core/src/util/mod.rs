//! Tools that keep the browser's wasm module small without changing behaviour: maps sharing
//! one B-tree per key kind, and one shared sort routine. Nothing here knows about blocks.
//!
//! May depend on: nothing else in the crate.

pub mod keyed_map;
pub mod ordering;
