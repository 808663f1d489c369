//! The CLI's side of the control endpoint (`crate::http::control`): find the running node's
//! cookie and address, hand it the command, and print what it answers.

use std::fs;
use std::net::SocketAddr;

use axum::http::StatusCode;
use hyper::Method;

use super::http_client::{self, HttpError};
use crate::commands::{CliError, Request};
use crate::http::control::ControlReply;
use crate::paths::DataPaths;

/// Longest control file read: a cookie is 64 hex digits, an address under 60 characters.
const MAX_CONTROL_FILE_BYTES: u64 = 256;

/// A control file's text, if it is one this program could have written.
fn read_control_file(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_CONTROL_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .ok()?;
    if text.len() as u64 > MAX_CONTROL_FILE_BYTES {
        tracing::warn!(
            "ignoring {}: far larger than a control file",
            path.display()
        );
        return None;
    }
    Some(text.trim().to_string())
}

/// Where the running node's control endpoint is, read from its address file: a loopback
/// address, since that is all a node writes there and the cookie must never be sent
/// anywhere else (an edited or stale file is ignored, saying so).
fn control_address(paths: &DataPaths) -> Option<SocketAddr> {
    let text = read_control_file(&paths.addr())?;
    match text.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => Some(addr),
        Ok(addr) => {
            tracing::warn!(
                "ignoring {}: it names {addr}, not a loopback address",
                paths.addr().display()
            );
            None
        }
        Err(_) => {
            tracing::warn!("ignoring {}: not an address", paths.addr().display());
            None
        }
    }
}

/// Hands `request` to a node running on this id, if one answers; `None` means "run it here".
pub async fn hand_over(paths: &DataPaths, request: &Request) -> Option<Result<String, CliError>> {
    if !paths.cookie().exists() {
        return None;
    }
    let secret = read_control_file(&paths.cookie())?;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        tracing::warn!("ignoring {}: not a cookie", paths.cookie().display());
        return None;
    }
    let addr = control_address(paths)?;
    let body = serde_json::to_vec(request).ok()?;
    let auth = format!("Bearer {secret}");
    let response = match http_client::request(
        addr,
        Method::POST,
        "/control",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
    {
        Ok(r) => r,
        Err(e @ (HttpError::Connect { .. } | HttpError::ConnectTimeout(_))) => {
            // Stale files from a node that was killed: its endpoint is gone.
            tracing::debug!("ignoring stale control files: {e}");
            return None;
        }
        Err(e) => {
            // The node took the command and went away before answering: it may have carried
            // it out (a `send --mine` committed, say). Running it again here could pay twice.
            return Some(Err(CliError::Control(format!(
                "the running node stopped before answering ({e}); it may have carried out \
                 the command: check with getbalance or printchain before retrying"
            ))));
        }
    };
    if response.status == StatusCode::FORBIDDEN {
        // Another process owns that port now; the files are stale.
        tracing::debug!("control endpoint at {addr} refused our cookie; ignoring it");
        return None;
    }
    let reply: ControlReply = match serde_json::from_slice(&response.body) {
        Ok(r) => r,
        Err(e) => {
            return Some(Err(CliError::Control(format!(
                "unreadable answer ({}): {e}",
                response.status
            ))))
        }
    };
    Some(match (reply.output, reply.error) {
        (Some(out), None) => Ok(out),
        (_, Some(err)) => Err(CliError::Remote(err)),
        (None, None) => Err(CliError::Control("empty answer".into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_only_ever_sent_to_a_loopback_address() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let paths = DataPaths::new(Some(dir.path().to_path_buf()), "7".into());
        for (text, expected) in [
            ("127.0.0.1:3000\n", Some("127.0.0.1:3000")),
            ("[::1]:3000", Some("[::1]:3000")),
            ("192.0.2.1:3000", None),
            ("relay.example:3000", None),
            ("", None),
        ] {
            fs::write(paths.addr(), text)?;
            let got = control_address(&paths).map(|a| a.to_string());
            assert_eq!(got.as_deref(), expected, "{text:?}");
        }
        fs::write(paths.addr(), "1".repeat(10_000))?;
        assert_eq!(control_address(&paths), None);
        Ok(())
    }
}
