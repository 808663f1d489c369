//! What a host does with the node's actions: one trait every shell implements, and one place
//! where an [`Action`] is taken apart.
//!
//! The relay's hub, a browser tab's driver and the simulator each carry out the same eight
//! kinds of action with their own means (a tokio channel, a WebSocket and IndexedDB, a
//! scheduled delivery). Writing the `match` over [`Action`] once, here, means a new kind of
//! action is a compile error in every shell instead of a silently ignored arm in one.
//!
//! # Usage
//! ```text
//! while let Some(action) = node.poll_action() {
//!     action.carry_out(&mut my_shell)?;   // in order: a Persist precedes what it announces
//! }
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use super::peers::PeerId;
use super::{Action, MiningJob, Notification};
use crate::chain::ChainChanges;

/// The means of one host: how frames leave, how changes are stored, how mining runs.
///
/// Methods are called in the order the node produced the actions; a shell must not reorder
/// a [`Shell::persist`] after a frame that follows it, or a crash could lose what was
/// already announced.
pub trait Shell {
    /// Why storing failed; the only action a shell may fail at (everything else is a
    /// best-effort send or a local command).
    type Error;

    /// Queues `frame` for `peer`.
    fn send(&mut self, peer: PeerId, frame: Vec<u8>);

    /// Queues the same frame for several peers. The default sends a copy to each; a shell
    /// with shared buffers overrides it to share one.
    fn broadcast(&mut self, peers: Vec<PeerId>, frame: Vec<u8>) {
        for peer in peers {
            self.send(peer, frame.clone());
        }
    }

    /// Closes the connection to `peer`; `misbehaved` says the node scored it out, so the
    /// shell may refuse its address for a while.
    fn disconnect(&mut self, peer: PeerId, reason: String, misbehaved: bool);

    /// Stores chain changes durably before anything after them is carried out.
    fn persist(&mut self, changes: ChainChanges) -> Result<(), Self::Error>;

    /// Opens an outbound connection to a relay the node learned of.
    fn dial(&mut self, url: String);

    /// Starts (or replaces) the proof-of-work search for `job`.
    fn mine(&mut self, job: MiningJob);

    /// Stops the proof-of-work search.
    fn stop_mining(&mut self);

    /// Shows or logs something that happened.
    fn notify(&mut self, notification: Notification);
}

impl Action {
    /// Hands this action to the shell method that carries it out.
    pub fn carry_out<S: Shell + ?Sized>(self, shell: &mut S) -> Result<(), S::Error> {
        match self {
            Action::Send { peer, frame } => shell.send(peer, frame),
            Action::Broadcast { peers, frame } => shell.broadcast(peers, frame),
            Action::Disconnect {
                peer,
                reason,
                misbehaved,
            } => shell.disconnect(peer, reason, misbehaved),
            Action::Persist(changes) => return shell.persist(changes),
            Action::Dial { url } => shell.dial(url),
            Action::Mine(job) => shell.mine(job),
            Action::StopMining => shell.stop_mining(),
            Action::Notify(n) => shell.notify(n),
        }
        Ok(())
    }
}
