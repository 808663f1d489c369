//! `GET /ws`: who may open a WebSocket (the page's origin, the address's bans and share of
//! the slots), and the connection it becomes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::admission::{ConnectionSlot, SlotRefusal};
use crate::net::ws::{adapt_inbound, READ_BUFFER_SIZE};
use crate::net::{connection, Shared};
use crate::util::peer_text::peer_text;

/// Whether a browser page from `origin` may open `/ws` on the server reached as `host`:
/// the relay's own page, a page served from localhost / 127.0.0.1 on any port, or one of
/// `extra` (`--allow-origin`; compared without case and without a trailing `/`).
pub fn origin_allowed(origin: &str, host: Option<&str>, extra: &[String]) -> bool {
    if extra
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    if let Some(host) = host {
        if origin.eq_ignore_ascii_case(&format!("http://{host}"))
            || origin.eq_ignore_ascii_case(&format!("https://{host}"))
        {
            return true;
        }
    }
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|base| match origin.strip_prefix(base) {
            Some("") => true,
            Some(rest) => rest
                .strip_prefix(':')
                .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())),
            None => false,
        })
}

/// `GET /ws`: the WebSocket upgrade, for allowed origins and addresses with room left.
pub async fn ws_upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The client behind a trusted proxy, else the TCP peer (IPv4 mapped into IPv6 as IPv4).
    let remote = SocketAddr::new(shared.client(remote.ip(), &headers), remote.port());
    let limits = &shared.limits;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let allowed = origin
            .to_str()
            .is_ok_and(|o| origin_allowed(o, host, &limits.allowed_origins));
        if !allowed {
            let origin = crate::util::peer_text::shown(&String::from_utf8_lossy(origin.as_bytes()));
            tracing::warn!(%remote, %origin, "WebSocket from a foreign origin refused");
            shared.metrics.refused.add("foreign_origin", 1);
            return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
        }
    }
    if shared.is_refused(remote.ip()) {
        tracing::debug!(%remote, "refused address tried to connect");
        shared.metrics.refused.add("banned_address", 1);
        return (StatusCode::FORBIDDEN, "address refused for misbehaviour\n").into_response();
    }
    let slot = match shared.reserve_inbound(remote.ip()) {
        Ok(slot) => slot,
        Err(SlotRefusal::Full) => {
            tracing::warn!(%remote, max = limits.max_peers, "peer limit reached; connection refused");
            shared.metrics.refused.add("relay_full", 1);
            return (StatusCode::SERVICE_UNAVAILABLE, "too many peers\n").into_response();
        }
        Err(SlotRefusal::AddressFull) => {
            tracing::debug!(%remote, "per-address peer limit reached; connection refused");
            shared.metrics.refused.add("address_full", 1);
            let body = "too many connections from this address\n";
            return (StatusCode::TOO_MANY_REQUESTS, body).into_response();
        }
    };
    // tungstenite refuses a frame whose header announces more than the limit before
    // reading its payload, and a fragmented message as soon as its parts exceed it.
    // A small read buffer: tungstenite's default 128 KiB is allocated (and zeroed, so it is
    // resident) for every connection, 1.3 GB for 10,000 idle tabs; frames larger than the
    // buffer are still read whole.
    ws.max_message_size(limits.max_frame_size)
        .max_frame_size(limits.max_frame_size)
        .read_buffer_size(READ_BUFFER_SIZE)
        .on_upgrade(move |socket| serve_inbound(shared, slot, socket, remote))
}

/// Runs a connection accepted on `/ws`.
async fn serve_inbound(
    shared: Arc<Shared>,
    slot: ConnectionSlot,
    socket: WebSocket,
    remote: SocketAddr,
) {
    let (stream, sink) = adapt_inbound(socket, shared.limits.max_frame_size);
    let end = connection::run(shared, slot, None, remote.ip(), stream, sink).await;
    let reason = end.to_string();
    tracing::debug!(%remote, reason = %peer_text(&reason), "inbound connection ended");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_and_local_origins_pass_others_do_not() {
        let host = Some("127.0.0.1:3000");
        let none: &[String] = &[];
        assert!(origin_allowed("http://127.0.0.1:3000", host, none));
        assert!(origin_allowed("http://localhost:8080", host, none));
        assert!(origin_allowed("http://127.0.0.1:5173", host, none));
        assert!(origin_allowed("http://localhost", host, none));
        assert!(origin_allowed(
            "http://relay.example:3000",
            Some("relay.example:3000"),
            none
        ));
        assert!(!origin_allowed("http://evil.example", host, none));
        assert!(!origin_allowed("http://localhost.evil.example", host, none));
        assert!(!origin_allowed("http://127.0.0.1:3000.evil", host, none));
        assert!(!origin_allowed("null", host, none));
    }

    #[test]
    fn allowed_origins_are_added_exactly() {
        let host = Some("127.0.0.1:3000");
        let extra = vec![
            "https://wallet.example/".to_string(),
            "http://10.0.0.5:8080".to_string(),
        ];
        assert!(origin_allowed("https://wallet.example", host, &extra));
        assert!(origin_allowed("HTTPS://Wallet.Example", host, &extra));
        assert!(origin_allowed("http://10.0.0.5:8080", host, &extra));
        assert!(!origin_allowed("http://wallet.example", host, &extra));
        assert!(!origin_allowed("https://wallet.example.evil", host, &extra));
        assert!(!origin_allowed("http://10.0.0.5:8081", host, &extra));
        assert!(origin_allowed("http://localhost:1", host, &extra));
    }
}
