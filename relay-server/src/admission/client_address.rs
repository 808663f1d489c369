//! Who a request comes from: the TCP peer, or — when that peer is a reverse proxy the
//! operator named with `--trusted-proxy` — the client the proxy says it forwards.
//!
//! Behind a proxy on the same host every connection comes from 127.0.0.1, so per-address
//! limits would count the proxy, and a misbehaving client could never be refused (loopback
//! never is). The proxy knows the real client and appends it to `X-Forwarded-For`; the last
//! entry is the one the proxy itself wrote, anything before it came from the client and may
//! be forged. So the last entry is believed, and only from a trusted proxy: from anyone
//! else the header is the client's own claim and is ignored.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The header a proxy names the client in.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The address a request from TCP peer `peer` is charged to: the last hop of
/// `X-Forwarded-For` when `peer` is one of `trusted_proxies` and names a valid address,
/// `peer` otherwise. IPv4 addresses mapped into IPv6 come back as IPv4.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted_proxies.iter().any(|p| p.to_canonical() == peer) {
        return peer;
    }
    last_forwarded_hop(headers).unwrap_or(peer)
}

/// The last entry of the last `X-Forwarded-For` header, as an address.
fn last_forwarded_hop(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all(FORWARDED_FOR).iter().next_back()?;
    let hop = last.to_str().ok()?.rsplit(',').next()?.trim();
    // Some proxies write "[v6]" or "v4:port"; the address is what counts.
    let bare = hop
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .map(|(h, _)| h)
        .unwrap_or(hop);
    bare.parse::<IpAddr>()
        .ok()
        .or_else(|| bare.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::net::Ipv4Addr;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client_and_only_its_own_hop_counts() {
        let proxy = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        let trusted = [proxy];
        let forged = headers(&["203.0.113.1, 198.51.100.7"]);
        assert_eq!(client_address(proxy, &forged, &trusted), client);
        assert_eq!(
            client_address(proxy, &forged, &[]),
            proxy,
            "untrusted: ignored"
        );
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(client_address(other, &forged, &trusted), other);
        let two = headers(&["203.0.113.1", "198.51.100.7:5555"]);
        assert_eq!(client_address(proxy, &two, &trusted), client);
        let v6 = headers(&["[2001:db8::1]:443"]);
        assert_eq!(
            client_address(proxy, &v6, &trusted),
            "2001:db8::1".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(client_address(proxy, &headers(&["junk"]), &trusted), proxy);
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
