//! Our own connections to other relays: `--peer` ones kept up with exponential backoff
//! ([`dial_forever`]), and ones the node asks for through the hub's [`Dialer`]
//! ([`dial_requested`]), checked first by [`super::dial_policy`].
//!
//! [`Dialer`]: crate::hub::Dialer

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::MaybeTlsStream;

use super::connection::{self, End};
use super::dial_policy;
use super::shared::Shared;
use super::ws::{adapt_client, ws_config_for};
use crate::hub::Dialled;
use crate::util::peer_text::peer_text;

/// Longest wait between two dials of an outbound peer.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// First wait before redialling a `--peer`.
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// How long a `--peer` dial (connect and WebSocket handshake) may take.
const NAMED_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that lived this long was healthy: the backoff starts afresh after it.
const HEALTHY_CONNECTION: Duration = Duration::from_secs(30);

/// Why a dial did not open a connection.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The URL a peer gave leads nowhere a relay dials, or nothing answered there.
    #[error(transparent)]
    Refused(#[from] dial_policy::DialRefusal),
    /// Connecting or the WebSocket handshake took too long.
    #[error("timed out")]
    Timeout,
    /// The WebSocket handshake failed.
    #[error(transparent)]
    Handshake(#[from] tungstenite::Error),
}

/// Dials `url` once and runs the connection; `Err` if it could not be opened. `named` when
/// the operator named it (`--peer`); a URL a peer gave is dialled only where
/// [`dial_policy`] allows.
async fn dial_once(shared: &Arc<Shared>, url: &str, named: bool) -> Result<End, DialError> {
    let slot = shared.reserve_outbound();
    let max = shared.limits.max_frame_size;
    let config = Some(ws_config_for(max));
    let (ws, _) = if named {
        let connect = tokio_tungstenite::connect_async_with_config(url, config, true);
        tokio::time::timeout(NAMED_CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| DialError::Timeout)??
    } else {
        let tcp = dial_policy::connect(url, shared.dial_own_machine).await?;
        let _ = tcp.set_nodelay(true);
        let handshake =
            tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(tcp), config);
        tokio::time::timeout(dial_policy::CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| DialError::Timeout)??
    };
    let ip = match ws.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.peer_addr().map(|a| a.ip()).ok(),
        _ => None,
    }
    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let (stream, sink) = adapt_client(ws, max);
    let dialled = Some(Dialled {
        url: url.to_string(),
        named,
    });
    Ok(connection::run(shared.clone(), slot, dialled, ip, stream, sink).await)
}

/// Dials every relay the node asks for, once each, until the node stops; `--peer` URLs
/// (`static_peers`), which [`dial_forever`] keeps up already, are skipped.
pub async fn dial_requested(
    shared: Arc<Shared>,
    mut urls: mpsc::UnboundedReceiver<String>,
    static_peers: Vec<String>,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            url = urls.recv() => match url {
                Some(url) if !static_peers.contains(&url) => {
                    tokio::spawn(dial_learned(shared.clone(), url));
                }
                Some(_) => {}
                None => return,
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// Dials a relay the node learned of (through `version` or `addr`) once, and runs the
/// connection until it ends; the node dials again, or another relay, when it wants to.
pub async fn dial_learned(shared: Arc<Shared>, url: String) {
    if *shared.shutdown.borrow() {
        return;
    }
    // The URL came from a peer: shown escaped.
    let shown_url = peer_text(&url);
    tracing::info!(url = %shown_url, "dialling a relay learned from a peer");
    match dial_once(&shared, &url, false).await {
        Ok(end) => {
            let reason = end.to_string();
            let reason = peer_text(&reason);
            tracing::info!(url = %shown_url, %reason, "connection to learned relay ended")
        }
        Err(e) => {
            let e = e.to_string();
            let e = peer_text(&e);
            tracing::warn!(url = %shown_url, "cannot connect to learned relay: {e}")
        }
    }
}

/// Keeps an outbound connection to `url` up until the node stops, redialling with
/// exponential backoff (capped at [`MAX_BACKOFF`]).
pub async fn dial_forever(shared: Arc<Shared>, url: String) {
    let mut shutdown = shared.shutdown.clone();
    let mut backoff = MIN_BACKOFF;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let started = Instant::now();
        match dial_once(&shared, &url, true).await {
            Ok(end) => {
                let reason = end.to_string();
                tracing::info!(%url, reason = %peer_text(&reason), "connection to peer ended");
                if started.elapsed() > HEALTHY_CONNECTION {
                    backoff = MIN_BACKOFF;
                }
            }
            Err(e) => tracing::warn!(%url, "cannot connect to peer: {}", peer_text(&e.to_string())),
        }
        if *shutdown.borrow() {
            return;
        }
        tracing::debug!(%url, "redialling in {} ms", backoff.as_millis());
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
