//! Connecting to a relay the node learned of from a peer (`addr`, `version`): the peer chose
//! the URL, so the relay checks where it leads before connecting.
//!
//! A WebSocket dial is an HTTP `GET` of the URL's path. Without a check, any peer could make
//! a public relay send `GET`s of its choosing to services on the relay's own machine —
//! `ws://127.0.0.1:8080/admin/...` — that trust whatever comes from loopback, also through a
//! name that resolves there. So the name is resolved here, and the addresses of the relay's
//! own machine (loopback, link-local) and ones no relay has (unspecified, multicast,
//! broadcast) are not dialled, unless this relay itself listens on loopback: then it is
//! part of a network of relays on one machine (a developer's, a test's), and they are
//! exactly where its peers are.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

/// How long resolving the name and connecting may each take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Addresses of one name tried at most.
const MAX_ADDRESSES_TRIED: usize = 4;

/// Whether a relay may connect to `ip` on a peer's word; `own_machine_ok` when the relay
/// itself listens on loopback.
pub fn may_dial(ip: IpAddr, own_machine_ok: bool) -> bool {
    let ip = ip.to_canonical();
    let nobody = ip.is_unspecified()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    let own_machine = ip.is_loopback()
        || match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
    !nobody && (!own_machine || own_machine_ok)
}

/// Resolves `url`'s host and connects to the first address a relay may dial.
pub async fn connect(url: &str, own_machine_ok: bool) -> Result<TcpStream, String> {
    let uri: tokio_tungstenite::tungstenite::http::Uri =
        url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("ws") {
        return Err("only ws:// URLs are dialled".into());
    }
    let host = uri.host().ok_or("no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let resolved: Vec<SocketAddr> =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| "resolving the name timed out".to_string())?
            .map_err(|e| format!("cannot resolve the name: {e}"))?
            .collect();
    let allowed: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| may_dial(a.ip(), own_machine_ok))
        .take(MAX_ADDRESSES_TRIED)
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "it leads to {} only, which a relay does not dial on a peer's word",
            resolved
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut last = String::from("no address");
    for addr in allowed {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: timed out"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn a_public_relay_does_not_dial_its_own_machine_on_a_peers_word() {
        for own in [
            "127.0.0.1",
            "127.8.9.1",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!may_dial(ip(own), false), "{own}");
            assert!(may_dial(ip(own), true), "{own} on a loopback network");
        }
        for nobody in ["0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "ff02::1"] {
            assert!(!may_dial(ip(nobody), true), "{nobody}");
        }
        for relay in ["203.0.113.5", "10.1.2.3", "192.168.1.9", "2001:db8::7"] {
            assert!(may_dial(ip(relay), false), "{relay}");
        }
    }

    #[tokio::test]
    async fn a_name_leading_to_loopback_is_refused_before_any_connection() {
        let err = connect("ws://localhost:9/ws", false).await.err();
        assert!(err.is_some_and(|e| e.contains("does not dial")));
        let err = connect("wss://relay.example/ws", false).await.err();
        assert!(err.is_some_and(|e| e.contains("ws://")));
    }
}
