//! Every TCP connection the relay accepts, from the moment it is accepted: counted, bounded
//! and timed out, whether or not it ever becomes a peer.
//!
//! WebSocket peers were bounded (`--max-peers`, per address), but a socket is a peer only
//! once its upgrade is done; before that, and for every page load and `/status`, it was an
//! HTTP connection nobody counted or timed: thousands of connections that never finish
//! their request headers (slowloris), or that sit idle after one request, each held a task,
//! buffers and a file descriptor for as long as the client liked. Here:
//! - at most `--max-http-connections` connections are in their HTTP phase at once, and at
//!   most [`MAX_HTTP_PER_ADDRESS`] from one address (loopback and trusted proxies excepted:
//!   every local tab, every client of a local proxy, shares their address);
//! - when full, a new connection takes the place of the oldest one that is doing nothing
//!   (no request in progress), so idle or half-open sockets cannot lock anyone out; only if
//!   every one is busy is the new one refused (closed at once);
//! - a connection with no request in progress for [`HTTP_IDLE_TIMEOUT`] is closed — however
//!   slowly it trickles the bytes of a request that never ends, and however long a
//!   keep-alive would last;
//! - a request whose connection moves no byte either way for [`HTTP_STALL_TIMEOUT`] (a
//!   download nobody reads) is closed, except `/control`, which waits on the local user's
//!   own command (mining can take long);
//! - once upgraded, the socket leaves this table and is a peer, under the peer limits, the
//!   handshake timeout and the send-queue bounds.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

use crate::admission::address_group;

/// Connections from one address (not loopback, not a trusted proxy) in their HTTP phase at
/// once: a browser opens about six to a site; the rest is room for several users behind
/// one NAT.
pub const MAX_HTTP_PER_ADDRESS: usize = 32;

/// How long a connection may go without a request in progress: ample to send a request's
/// few hundred bytes of headers over any link, and longer than a page waits between loading
/// its files; browsers open a new connection when an idle one was closed.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may go without a byte read or written: a client that stopped
/// reading a download, or stopped sending a body.
pub const HTTP_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long hyper waits for the rest of a request's headers once they start; the idle
/// timeout above is what bounds a request that never ends, this is a second guard.
const HEADER_READ_TIMEOUT: Duration = HTTP_IDLE_TIMEOUT;

/// Bytes hyper buffers per connection (its default is about 400 KB): requests to this
/// relay have headers of a few hundred bytes and bodies of a few KB, and every connection
/// in the table may fill its buffer.
const MAX_BUFFER: usize = 64 * 1024;

/// What the table knows of one connection.
struct ConnState {
    group: IpAddr,
    /// Requests in progress (from headers read to response body sent).
    busy: AtomicUsize,
    /// Requests in progress that may wait without moving bytes (`/control`).
    patient: AtomicUsize,
    /// When the connection last had no request in progress (ms since the table's epoch).
    idle_since: AtomicU64,
    /// When a byte last moved either way (ms since the table's epoch).
    last_progress: AtomicU64,
    evicted: AtomicBool,
    /// Wakes the connection's task when it is evicted or a request ends.
    wake: Notify,
}

/// Why a connection was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnRefusal {
    /// The table is full and every connection in it is busy.
    #[error("all HTTP connections are busy")]
    Full,
    /// The address has its share, every one busy.
    #[error("this address has all the HTTP connections it may open")]
    AddressFull,
}

#[derive(Default)]
struct TableInner {
    /// By acceptance order, so the first idle one is the oldest.
    conns: BTreeMap<u64, Arc<ConnState>>,
    per_address: HashMap<IpAddr, usize>,
    next_id: u64,
}

/// The connections in their HTTP phase.
pub struct ConnTable {
    inner: Mutex<TableInner>,
    epoch: Instant,
    max_total: usize,
    /// Addresses that share no per-address limit: trusted proxies (loopback never has one).
    unlimited: Vec<IpAddr>,
}

impl ConnTable {
    /// A table holding up to `max_total` connections; `trusted_proxies` have no share of
    /// their own, only the total bounds them.
    pub fn new(max_total: usize, trusted_proxies: &[IpAddr]) -> Arc<Self> {
        Arc::new(ConnTable {
            inner: Mutex::new(TableInner::default()),
            epoch: Instant::now(),
            max_total,
            unlimited: trusted_proxies.iter().map(|ip| ip.to_canonical()).collect(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, TableInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Connections in their HTTP phase now.
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts a connection from `ip`, making room by evicting the oldest idle connection
    /// (of that address, when its share is the limit) if needed.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, ConnRefusal> {
        let ip = ip.to_canonical();
        let group = address_group(ip);
        let shared_address = group.is_loopback() || self.unlimited.contains(&ip);
        let now = self.now_ms();
        let mut inner = self.lock();
        if !shared_address
            && inner.per_address.get(&group).copied().unwrap_or(0) >= MAX_HTTP_PER_ADDRESS
            && !evict_oldest_idle(&mut inner, Some(group))
        {
            return Err(ConnRefusal::AddressFull);
        }
        if inner.conns.len() >= self.max_total && !evict_oldest_idle(&mut inner, None) {
            return Err(ConnRefusal::Full);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let state = Arc::new(ConnState {
            group,
            busy: AtomicUsize::new(0),
            patient: AtomicUsize::new(0),
            idle_since: AtomicU64::new(now),
            last_progress: AtomicU64::new(now),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        });
        inner.conns.insert(id, state.clone());
        *inner.per_address.entry(group).or_insert(0) += 1;
        Ok(Ticket {
            table: self.clone(),
            id,
            state,
        })
    }
}

/// Removes the oldest connection with no request in progress (of `group`, if given) and
/// tells it to close; whether there was one.
fn evict_oldest_idle(inner: &mut TableInner, group: Option<IpAddr>) -> bool {
    let victim = inner
        .conns
        .iter()
        .find(|(_, c)| c.busy.load(Ordering::Acquire) == 0 && group.is_none_or(|g| c.group == g))
        .map(|(id, _)| *id);
    let Some(id) = victim else {
        return false;
    };
    if let Some(state) = inner.conns.remove(&id) {
        forget_address(inner, state.group);
        state.evicted.store(true, Ordering::Release);
        state.wake.notify_one();
    }
    true
}

fn forget_address(inner: &mut TableInner, group: IpAddr) {
    if let Some(n) = inner.per_address.get_mut(&group) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            inner.per_address.remove(&group);
        }
    }
}

/// One counted connection; leaves the table when dropped (closed or upgraded).
struct Ticket {
    table: Arc<ConnTable>,
    id: u64,
    state: Arc<ConnState>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        if inner.conns.remove(&self.id).is_some() {
            forget_address(&mut inner, self.state.group);
        }
    }
}

/// Marks a request in progress for as long as it lives (until its response body is sent).
struct BusyGuard {
    state: Arc<ConnState>,
    patient: bool,
    epoch: Instant,
}

impl BusyGuard {
    fn new(state: &Arc<ConnState>, patient: bool, epoch: Instant) -> Self {
        state.busy.fetch_add(1, Ordering::AcqRel);
        if patient {
            state.patient.fetch_add(1, Ordering::AcqRel);
        }
        BusyGuard {
            state: state.clone(),
            patient,
            epoch,
        }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.patient {
            self.state.patient.fetch_sub(1, Ordering::AcqRel);
        }
        if self.state.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            let now = self.epoch.elapsed().as_millis() as u64;
            self.state.idle_since.store(now, Ordering::Release);
        }
        self.state.wake.notify_one();
    }
}

/// A response body that keeps its request counted as in progress until it is all sent.
struct TrackedBody {
    inner: Body,
    _busy: BusyGuard,
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The TCP stream, noting when bytes move.
struct TrackedIo {
    tcp: TcpStream,
    state: Arc<ConnState>,
    epoch: Instant,
}

impl TrackedIo {
    fn progress(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.state.last_progress.store(now, Ordering::Release);
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.progress();
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.progress();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.progress();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Why a connection's watchdog ends it, if it does: the deadline it is waiting for.
fn deadline(state: &ConnState, epoch: Instant) -> Option<Instant> {
    let at = |ms: u64, after: Duration| epoch + Duration::from_millis(ms) + after;
    if state.busy.load(Ordering::Acquire) == 0 {
        Some(at(
            state.idle_since.load(Ordering::Acquire),
            HTTP_IDLE_TIMEOUT,
        ))
    } else if state.patient.load(Ordering::Acquire) == 0 {
        Some(at(
            state.last_progress.load(Ordering::Acquire),
            HTTP_STALL_TIMEOUT,
        ))
    } else {
        None
    }
}

/// Accepts connections on `listener` and serves `app` on them until `stop` is raised, under
/// the bounds of `table` (see the module documentation).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    table: Arc<ConnTable>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, say: wait a moment rather than spin.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ticket = match table.admit(remote.ip()) {
            Ok(t) => t,
            Err(why) => {
                tracing::debug!(%remote, "connection refused: {why}");
                drop(tcp);
                continue;
            }
        };
        // Small frames answer small frames: do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
        tokio::spawn(serve_one(tcp, remote, ticket, app.clone(), stop.clone()));
    }
}

/// Serves one connection until it closes, upgrades, is evicted, times out or the node stops.
async fn serve_one(
    tcp: TcpStream,
    remote: SocketAddr,
    ticket: Ticket,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let epoch = ticket.table.epoch;
    let state = ticket.state.clone();
    let io = TrackedIo {
        tcp,
        state: state.clone(),
        epoch,
    };
    let service_state = state.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let busy = BusyGuard::new(&service_state, req.uri().path() == "/control", epoch);
        req.extensions_mut().insert(ConnectInfo(remote));
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|inner| Body::new(TrackedBody { inner, _busy: busy })),
            )
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_BUFFER)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        if state.evicted.load(Ordering::Acquire) {
            tracing::debug!(%remote, "idle connection closed to make room");
            return;
        }
        let until = deadline(&state, epoch);
        let timer = async {
            match until {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = state.wake.notified() => {}
            _ = timer => {
                // Activity may have moved the deadline while we slept.
                if deadline(&state, epoch).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%remote, "connection timed out (idle or stalled)");
                    return;
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
    // The ticket drops here or at the returns above: the connection leaves the table (an
    // upgraded one lives on as a peer, counted there).
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))
    }

    #[test]
    fn a_full_table_makes_room_by_closing_the_oldest_idle_connection() {
        let table = ConnTable::new(3, &[]);
        let a = table.admit(ip(1)).ok();
        let b = table.admit(ip(2)).ok();
        let c = table.admit(ip(3)).ok();
        // `a` has a request in progress: `b`, the oldest idle one, makes room.
        let busy = a
            .as_ref()
            .map(|t| BusyGuard::new(&t.state, false, table.epoch));
        let d = table.admit(ip(4)).ok();
        assert!(d.is_some());
        assert_eq!(table.len(), 3);
        assert!(b
            .as_ref()
            .is_some_and(|t| t.state.evicted.load(Ordering::Acquire)));
        assert!(a
            .as_ref()
            .is_some_and(|t| !t.state.evicted.load(Ordering::Acquire)));
        drop(b);
        assert_eq!(table.len(), 3, "an evicted ticket is no longer counted");
        // All busy: refused.
        let all_busy: Vec<_> = [&c, &d]
            .iter()
            .filter_map(|t| {
                t.as_ref()
                    .map(|t| BusyGuard::new(&t.state, false, table.epoch))
            })
            .collect();
        assert_eq!(table.admit(ip(5)).err(), Some(ConnRefusal::Full));
        drop((busy, all_busy, a, c, d));
        assert!(table.is_empty());
    }

    #[test]
    fn one_address_gets_its_share_but_loopback_and_trusted_proxies_share_the_total() {
        let proxy = ip(200);
        let table = ConnTable::new(1_000, &[proxy]);
        let held: Vec<_> = (0..MAX_HTTP_PER_ADDRESS)
            .filter_map(|_| table.admit(ip(1)).ok())
            .collect();
        let busy: Vec<_> = held
            .iter()
            .map(|t| BusyGuard::new(&t.state, false, table.epoch))
            .collect();
        assert_eq!(table.admit(ip(1)).err(), Some(ConnRefusal::AddressFull));
        assert!(table.admit(ip(2)).is_ok());
        let local: Vec<_> = (0..2 * MAX_HTTP_PER_ADDRESS)
            .filter_map(|_| table.admit(IpAddr::V4(Ipv4Addr::LOCALHOST)).ok())
            .collect();
        let proxied: Vec<_> = (0..2 * MAX_HTTP_PER_ADDRESS)
            .filter_map(|_| table.admit(proxy).ok())
            .collect();
        assert_eq!(local.len() + proxied.len(), 4 * MAX_HTTP_PER_ADDRESS);
        drop(busy);
    }
}
