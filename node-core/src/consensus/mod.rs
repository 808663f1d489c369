//! The rules every node applies to the same bytes with the same result: chain parameters,
//! proof of work and its target arithmetic, and the checks a block or transaction must pass
//! on its own and against the UTXO set. Anything that differed between two nodes here would
//! split the network, so nothing here reads a clock, a peer or a setting of one node.
//!
//! May depend on: `primitives`, `utxo`, `util`.

pub mod params;
pub mod pow;
pub mod sha256x4;
pub mod validation;
