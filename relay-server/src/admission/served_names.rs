//! The host names this relay answers to, checked against each request's `Host` header.
//!
//! DNS rebinding: a page at `http://evil.example:3000` re-points `evil.example` to 127.0.0.1
//! and talks to a local relay as its own origin — `Origin: http://evil.example:3000`,
//! `Host: evil.example:3000`, both chosen by the attacker. Comparing the two proves nothing;
//! what the attacker cannot choose is which names the relay serves. So a request is
//! answered only when its `Host` is one of them:
//! - an IP address (`127.0.0.1:3000`, `[::1]:3000`, the LAN address of a relay listening on
//!   every interface): a browser sends an address as `Host` only when the page asked for
//!   that address itself, and no DNS answer can change where an address leads;
//! - `localhost`, which browsers resolve to loopback themselves, never through DNS;
//! - the host of `--public-url`, of every `--allow-origin`, and every `--allow-host`.
//!
//! Ports are not compared: rebinding changes where a name leads, not which port the page
//! used, and a relay behind a proxy is reached on the proxy's port, not its own.

use crate::util::peer_text::shown;

/// The names a relay serves, lower case, without port or trailing dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedNames {
    names: Vec<String>,
}

/// The host part of a URL or `Host` value (`scheme://` and any path already removed or
/// absent): `name`, `name:port`, `[v6]`, `[v6]:port`. Lower case, no trailing dot.
fn host_of_authority(authority: &str) -> String {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']').map_or("", |(h, _)| h)
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The host of `scheme://authority/path`, if the text has that shape.
fn host_of_url(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = host_of_authority(authority);
    (!host.is_empty()).then_some(host)
}

impl ServedNames {
    /// The names of a relay with this `--public-url`, `--allow-origin`s and `--allow-host`s.
    pub fn new(
        public_url: Option<&str>,
        allowed_origins: &[String],
        allowed_hosts: &[String],
    ) -> Self {
        let mut names: Vec<String> = public_url
            .into_iter()
            .chain(allowed_origins.iter().map(String::as_str))
            .filter_map(host_of_url)
            .chain(allowed_hosts.iter().map(|h| host_of_authority(h.trim())))
            .filter(|h| !h.is_empty())
            .collect();
        names.sort();
        names.dedup();
        ServedNames { names }
    }

    /// Whether a request whose `Host` header is `host` is for this relay.
    pub fn serves(&self, host: &str) -> bool {
        let name = host_of_authority(host.trim());
        if name.is_empty() {
            return false;
        }
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || self.names.contains(&name)
    }

    /// One line for the log and for refusals: which names are served.
    pub fn describe(&self) -> String {
        let mut all = vec!["IP addresses".to_string(), "localhost".to_string()];
        all.extend(self.names.iter().map(|n| shown(n)));
        all.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_localhost_and_configured_names_are_served_others_are_not() {
        let names = ServedNames::new(
            Some("wss://Relay.Example/ws"),
            &["https://wallet.example:8443".to_string()],
            &["box.lan".to_string()],
        );
        for good in [
            "127.0.0.1:3000",
            "127.0.0.1",
            "[::1]:3000",
            "192.168.1.20:3000",
            "localhost:3000",
            "LOCALHOST",
            "relay.example",
            "relay.example.:443",
            "wallet.example:8443",
            "box.lan:3000",
        ] {
            assert!(names.serves(good), "{good}");
        }
        for bad in [
            "evil.example:3000",
            "relay.example.evil:3000",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "",
            ":3000",
            "[::1",
        ] {
            assert!(!names.serves(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_are_taken_from_urls_with_or_without_ports_and_paths() {
        assert_eq!(host_of_url("ws://[::1]:3000/ws"), Some("::1".into()));
        assert_eq!(host_of_url("https://a.example"), Some("a.example".into()));
        assert_eq!(
            host_of_url("wss://u@b.example:1/x?y"),
            Some("b.example".into())
        );
        assert_eq!(host_of_url("no-scheme"), None);
    }
}
