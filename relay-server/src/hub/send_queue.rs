//! What is waiting to be written to one peer, counted in bytes, and the relay's total.
//!
//! Counting frames bounded nothing: one `getdata` naming a 1 MB block 2,000 times, from a
//! peer that never reads, queued 1.9 GB. Here every queued byte is counted against the peer
//! ([`SendQueue`]) and against the whole relay ([`SendBudget`]), from the moment the hub
//! queues a frame until it has been written to the socket (or dropped with the peer):
//! - a peer with more than [`PAUSE_READING_BYTES`] unread has nothing more read from its
//!   socket, so it cannot make the node answer more requests than it reads answers;
//! - a frame that would take a peer past its limit drops the peer instead;
//! - a frame that would take the relay past its total drops the peers holding the most
//!   until it fits, so many slow readers together cannot exhaust memory either.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

/// Unread bytes above which nothing more is read from a peer: four of the largest blocks.
/// A peer that reads its answers never waits on it for long; one that does not has its
/// requests left unread in its own socket, where they cost the relay nothing.
pub const PAUSE_READING_BYTES: usize = 4 * node_core::protocol::MAX_FRAME_SIZE;

/// Bytes queued for all peers together, shared by their queues.
#[derive(Debug)]
pub struct SendBudget {
    used: AtomicUsize,
    /// The most all queues may hold together.
    pub limit: usize,
}

impl SendBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(SendBudget {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    /// Bytes queued for all peers now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Whether `more` bytes fit.
    pub fn fits(&self, more: usize) -> bool {
        self.used().saturating_add(more) <= self.limit
    }
}

#[derive(Default)]
struct Inner {
    frames: VecDeque<Bytes>,
    /// Bytes queued, including the frame being written.
    bytes: usize,
    /// No more frames will be queued or written.
    closed: bool,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueRefusal {
    /// The peer has its limit queued.
    #[error("over its {0}-byte send queue: the peer does not read what it asked for")]
    Full(usize),
    /// The connection is closing.
    #[error("the connection is closing")]
    Closed,
}

/// One peer's outgoing frames, bounded in bytes.
pub struct SendQueue {
    inner: Mutex<Inner>,
    /// Most bytes this peer may have queued.
    limit: usize,
    budget: Arc<SendBudget>,
    /// Wakes the writer when a frame is queued or the queue closes.
    queued: Notify,
    /// Wakes the reader when a frame has been written.
    written: Notify,
}

impl SendQueue {
    /// An empty queue holding up to `limit` bytes, counted in `budget` too.
    pub fn new(limit: usize, budget: Arc<SendBudget>) -> Arc<Self> {
        Arc::new(SendQueue {
            inner: Mutex::new(Inner::default()),
            limit,
            budget,
            queued: Notify::new(),
            written: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes queued and not yet written.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Queues a frame, unless it would take the peer past its limit (the relay's total is
    /// the caller's to check first: it decides whom to drop).
    pub fn push(&self, frame: Bytes) -> Result<(), QueueRefusal> {
        let len = frame.len();
        {
            let mut inner = self.lock();
            if inner.closed {
                return Err(QueueRefusal::Closed);
            }
            if inner.bytes.saturating_add(len) > self.limit {
                return Err(QueueRefusal::Full(self.limit));
            }
            inner.bytes += len;
            inner.frames.push_back(frame);
            self.budget.used.fetch_add(len, Ordering::AcqRel);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// The next frame to write, waiting for one; `None` once the queue is closed and empty.
    /// The frame stays counted until [`SendQueue::written`] is called with its length.
    pub async fn next(&self) -> Option<Bytes> {
        loop {
            {
                let mut inner = self.lock();
                if let Some(frame) = inner.frames.pop_front() {
                    return Some(frame);
                }
                if inner.closed {
                    return None;
                }
            }
            self.queued.notified().await;
        }
    }

    /// A frame of `len` bytes returned by [`SendQueue::next`] was written (or given up).
    pub fn written(&self, len: usize) {
        {
            let mut inner = self.lock();
            let len = len.min(inner.bytes);
            inner.bytes -= len;
            self.budget.used.fetch_sub(len, Ordering::AcqRel);
        }
        self.written.notify_waiters();
    }

    /// Waits until at most `limit` bytes are queued (at once if they are, or if closed).
    pub async fn wait_below(&self, limit: usize) {
        loop {
            let notified = self.written.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inner = self.lock();
                if inner.bytes <= limit || inner.closed {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Closes the queue: nothing more is queued; what is queued is still handed out by
    /// [`SendQueue::next`] (a `reject` sent just before a disconnection, say).
    pub fn close(&self) {
        self.lock().closed = true;
        self.queued.notify_one();
        self.written.notify_waiters();
    }

    /// Closes the queue and frees everything in it at once (a peer dropped for not reading:
    /// what it did not read is not worth keeping until its connection ends).
    pub fn discard(&self) {
        {
            let mut inner = self.lock();
            inner.closed = true;
            let freed: usize = inner.frames.drain(..).map(|f| f.len()).sum();
            inner.bytes -= freed;
            self.budget.used.fetch_sub(freed, Ordering::AcqRel);
        }
        self.queued.notify_one();
        self.written.notify_waiters();
    }
}

impl Drop for SendQueue {
    fn drop(&mut self) {
        // Whatever is still counted (a frame being written when the connection ended).
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.budget.used.fetch_sub(inner.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_are_counted_from_queueing_to_writing_in_the_peer_and_the_relay() {
        let budget = SendBudget::new(1_000);
        let q = SendQueue::new(100, budget.clone());
        assert_eq!(q.push(Bytes::from(vec![0; 60])), Ok(()));
        assert_eq!(
            q.push(Bytes::from(vec![0; 41])),
            Err(QueueRefusal::Full(100))
        );
        assert_eq!(q.push(Bytes::from(vec![0; 40])), Ok(()));
        assert_eq!((q.bytes(), budget.used()), (100, 100));
        let first = q.next().await.map(|f| f.len());
        assert_eq!(first, Some(60));
        assert_eq!(q.bytes(), 100, "counted until written");
        q.written(60);
        assert_eq!((q.bytes(), budget.used()), (40, 40));
        q.wait_below(40).await;
        q.discard();
        assert_eq!((q.bytes(), budget.used()), (0, 0));
        assert_eq!(q.next().await, None);
        assert_eq!(q.push(Bytes::from_static(b"x")), Err(QueueRefusal::Closed));
    }

    #[tokio::test]
    async fn a_closed_queue_still_hands_out_what_it_holds_and_frees_it_when_dropped() {
        let budget = SendBudget::new(1_000);
        let q = SendQueue::new(100, budget.clone());
        q.push(Bytes::from_static(b"reject"))
            .map_err(|e| e.to_string())
            .ok();
        q.close();
        assert_eq!(q.next().await, Some(Bytes::from_static(b"reject")));
        assert_eq!(q.next().await, None);
        drop(q);
        assert_eq!(budget.used(), 0);
    }
}
