//! Tools that keep the browser's wasm module small without changing behaviour: maps sharing
//! one B-tree per key kind, and one shared sort routine. Nothing here knows about rules.
//!
//! May depend on: `primitives` (the key kinds maps share B-trees by: hashes and outpoints).

pub mod escaped;
pub mod keyed_map;
pub mod ordering;
