//! Who may connect, and how much a connection may use: the limits `startnode`'s flags set
//! ([`Limits`]), the counted WebSocket slots ([`slots`]), the addresses refused for
//! misbehaviour ([`bans`]), the host names served ([`served_names`]) and whose address a
//! request is charged to behind a proxy ([`client_address`]).
//!
//! These are plain, synchronous tables shared by the HTTP side (which admits), the
//! connection tasks (which hold a slot) and the hub (which refuses misbehaving addresses),
//! so they sit below all three.
//!
//! May depend on: `util`.

pub mod bans;
pub mod client_address;
pub mod limits;
pub mod served_names;
pub mod slots;

pub use bans::Bans;
pub use limits::Limits;
pub use served_names::ServedNames;
pub use slots::{address_group, ConnectionSlot, PeerSlots, SlotRefusal};
