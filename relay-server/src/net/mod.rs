//! The relay's WebSocket peers: one task per connection ([`connection`]) over one stream
//! and sink whichever library opened it ([`ws`]), our own dials ([`dial`], checked by
//! [`dial_policy`]), the per-peer frame rate ([`rate_limit`]), the cache of transactions
//! whose signatures a connection already checked ([`verified_txs`]), and the state all of
//! them share with the HTTP side ([`shared`]).
//!
//! The hub is known here only through its message types (`crate::hub::messages`) and the
//! send queue it fills.
//!
//! May depend on: `hub` (messages, send queue), `admission`, `util`.

pub mod connection;
pub mod dial;
pub mod dial_policy;
pub mod rate_limit;
pub mod shared;
pub mod verified_txs;
pub mod ws;

pub use connection::End;
pub use shared::Shared;
