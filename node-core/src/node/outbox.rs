//! The node's output: the queue of [`Action`]s the shell drains, in order.
//!
//! Every part of the node writes here, and nothing else: a frame to send, a notification,
//! changes to persist. Kept apart from the rest of the node's state so that a part can send
//! while it holds a peer mutably (a split borrow of two fields, not of all of the node).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::chain::ChainChanges;
use crate::protocol::{encode_frame, Message};

use super::peers::PeerId;
use super::{Action, Notification};

/// Actions waiting for the shell, and whether messages are traced.
pub(super) struct Outbox {
    actions: VecDeque<Action>,
    /// Emit a notification for every message out ([`super::NodeConfig::trace_messages`]).
    trace: bool,
}

impl Outbox {
    /// An empty outbox.
    pub(super) fn new(trace: bool) -> Self {
        Outbox {
            actions: VecDeque::new(),
            trace,
        }
    }

    /// Whether messages are traced (in and out).
    pub(super) fn tracing(&self) -> bool {
        self.trace
    }

    /// Queues one action.
    pub(super) fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Queues changes to persist, if there are any.
    pub(super) fn persist(&mut self, changes: ChainChanges) {
        if !changes.is_empty() {
            self.actions.push_back(Action::Persist(changes));
        }
    }

    /// Queues a notification.
    pub(super) fn notify(&mut self, n: Notification) {
        self.actions.push_back(Action::Notify(n));
    }

    /// Queues `message` for `peer`; returns the frame's size.
    pub(super) fn send(&mut self, peer: PeerId, message: &Message) -> usize {
        if self.trace {
            self.notify(Notification::MessageOut {
                peers: alloc::vec![peer],
                command: message.command().into(),
                summary: message.summary(),
            });
        }
        let frame = encode_frame(message);
        let size = frame.len();
        self.actions.push_back(Action::Send { peer, frame });
        size
    }

    /// Queues one frame for several peers (none: nothing).
    pub(super) fn broadcast(&mut self, peers: Vec<PeerId>, message: &Message) {
        if peers.is_empty() {
            return;
        }
        if self.trace {
            self.notify(Notification::MessageOut {
                peers: peers.clone(),
                command: message.command().into(),
                summary: message.summary(),
            });
        }
        self.actions.push_back(Action::Broadcast {
            peers,
            frame: encode_frame(message),
        });
    }

    /// The oldest action.
    pub(super) fn pop(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Every action, oldest first.
    pub(super) fn drain(&mut self) -> Vec<Action> {
        self.actions.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traced_send_is_noted_before_its_frame() {
        let mut out = Outbox::new(true);
        let size = out.send(7, &Message::Ping(1));
        let actions = out.drain();
        assert!(matches!(
            &actions[0],
            Action::Notify(Notification::MessageOut { peers, .. }) if peers == &alloc::vec![7]
        ));
        assert!(matches!(&actions[1], Action::Send { peer: 7, frame } if frame.len() == size));
    }

    #[test]
    fn a_broadcast_to_nobody_and_empty_changes_queue_nothing() {
        let mut out = Outbox::new(true);
        out.broadcast(Vec::new(), &Message::Ping(1));
        out.persist(ChainChanges::default());
        assert!(out.pop().is_none());
    }
}
