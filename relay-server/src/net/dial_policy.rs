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

/// Why a URL a peer gave was not connected to.
#[derive(Debug, thiserror::Error)]
pub enum DialRefusal {
    /// It does not parse as a URL.
    #[error("not a URL: {0}")]
    NotAUrl(#[from] tokio_tungstenite::tungstenite::http::uri::InvalidUri),
    /// Another scheme than `ws://` (a relay dials no TLS on a peer's word).
    #[error("only ws:// URLs are dialled")]
    NotWs,
    /// The URL names no host.
    #[error("the URL has no host")]
    NoHost,
    /// The name did not resolve within [`CONNECT_TIMEOUT`].
    #[error("resolving the name timed out")]
    ResolveTimeout,
    /// The name did not resolve.
    #[error("cannot resolve the name: {0}")]
    Unresolved(std::io::Error),
    /// The name leads only to addresses a relay does not dial on a peer's word.
    #[error("it leads to {} only, which a relay does not dial on a peer's word", list(.0))]
    NotDialled(Vec<IpAddr>),
    /// Every allowed address refused or failed (the last failure).
    #[error("{0}: {1}")]
    Unreachable(SocketAddr, std::io::Error),
    /// Connecting to the last allowed address took too long.
    #[error("{0}: timed out")]
    ConnectTimeout(SocketAddr),
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

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
pub async fn connect(url: &str, own_machine_ok: bool) -> Result<TcpStream, DialRefusal> {
    let uri: tokio_tungstenite::tungstenite::http::Uri = url.parse()?;
    if uri.scheme_str() != Some("ws") {
        return Err(DialRefusal::NotWs);
    }
    let host = uri.host().ok_or(DialRefusal::NoHost)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let resolved: Vec<SocketAddr> =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| DialRefusal::ResolveTimeout)?
            .map_err(DialRefusal::Unresolved)?
            .collect();
    let allowed: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| may_dial(a.ip(), own_machine_ok))
        .take(MAX_ADDRESSES_TRIED)
        .collect();
    if allowed.is_empty() {
        return Err(DialRefusal::NotDialled(
            resolved.iter().map(SocketAddr::ip).collect(),
        ));
    }
    let mut last = None;
    for addr in allowed {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) => last = Some(DialRefusal::Unreachable(addr, e)),
            Err(_) => last = Some(DialRefusal::ConnectTimeout(addr)),
        }
    }
    // `allowed` was not empty, so a failure was recorded.
    Err(last.unwrap_or(DialRefusal::NoHost))
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
        assert!(matches!(err, Some(DialRefusal::NotDialled(_))), "{err:?}");
        assert!(err.is_some_and(|e| e.to_string().contains("does not dial")));
        let err = connect("wss://relay.example/ws", false).await.err();
        assert!(matches!(err, Some(DialRefusal::NotWs)), "{err:?}");
        let err = connect("not a url", false).await.err();
        assert!(matches!(err, Some(DialRefusal::NotAUrl(_))), "{err:?}");
    }
}
