//! What the tab does with each of the node's actions: node-core's [`Shell`], carried out
//! with the relay connection, the mining workers and the page's events.

use node_core::chain::ChainChanges;
use node_core::node::peers::PeerId;
use node_core::node::shell::Shell;
use node_core::node::MiningJob;
use node_core::{Action, Notification};

use super::Driver;
use crate::peer_text::console_warn;

/// The tab's means for one action, borrowed from the [`Driver`] for as long as it takes.
///
/// Its `persist` does not write: it hands the changes back to the pump
/// ([`Driver::carry_out`]), which writes them itself. A `Shell` method is synchronous, and
/// IndexedDB is not: the write must be awaited before anything queued after it is carried
/// out (so no frame announces a block a closed tab could lose), and the pump gathers the
/// `Persist` actions queued behind it into one transaction, which is what keeps a long
/// download fast. Everything else is carried out here, at once.
struct TabShell<'a> {
    driver: &'a Driver,
    /// The changes of a `Persist`, for the pump to write.
    to_write: Option<ChainChanges>,
}

impl Driver {
    /// Carries out `action` through the tab's [`Shell`]; returns the changes of a `Persist`,
    /// which the caller writes (see [`TabShell`]).
    pub(super) fn carry_out(&self, action: Action) -> Option<ChainChanges> {
        let mut shell = TabShell {
            driver: self,
            to_write: None,
        };
        let Ok(()) = action.carry_out(&mut shell);
        shell.to_write
    }

    fn send_frame(&self, peer: PeerId, frame: &[u8]) {
        let link = self.inner.link.borrow();
        if link.peer != peer || !link.open {
            return;
        }
        if let Some(c) = &link.conn {
            if let Err(e) = c.send(frame) {
                console_warn(&e.to_string());
            }
        }
    }
}

impl Shell for TabShell<'_> {
    /// Nothing fails here: the write, which can, happens in the pump.
    type Error = std::convert::Infallible;

    fn send(&mut self, peer: PeerId, frame: Vec<u8>) {
        self.driver.send_frame(peer, &frame);
    }

    /// One frame, sent on each connection named (no copies).
    fn broadcast(&mut self, peers: Vec<PeerId>, frame: Vec<u8>) {
        for p in peers {
            self.driver.send_frame(p, &frame);
        }
    }

    fn disconnect(&mut self, peer: PeerId, reason: String, _misbehaved: bool) {
        let link = self.driver.inner.link.borrow();
        if link.peer == peer {
            if let Some(c) = &link.conn {
                c.close(&reason);
            }
        }
    }

    fn persist(&mut self, changes: ChainChanges) -> Result<(), Self::Error> {
        self.to_write = Some(changes);
        Ok(())
    }

    /// A tab keeps one connection, to its relay (`dial_learned` is 0 here, so the node never
    /// asks); the relays it hears of are listed on the page.
    fn dial(&mut self, _url: String) {}

    fn mine(&mut self, job: MiningJob) {
        let header = job.template.header.to_bytes();
        let result =
            self.driver
                .inner
                .miner
                .borrow_mut()
                .start(job.id, header, js_sys::Date::now());
        if let Err(e) = result {
            self.driver.miner_failed(e.to_string());
        }
    }

    fn stop_mining(&mut self) {
        self.driver.inner.miner.borrow_mut().stop();
        self.driver.emit_hashrate();
    }

    fn notify(&mut self, notification: Notification) {
        self.driver.notify(notification);
    }
}
