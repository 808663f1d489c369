//! The control endpoint: how a CLI command reaches a node that is running on its id.
//!
//! A running node holds its chain file open (redb allows one process), so a second process
//! cannot read or write it. Instead `startnode` writes a random cookie (`.cookie_<ID>`, mode
//! 0600) and its address (`node_<ID>.addr`); the CLI finds them, POSTs its [`Request`] to
//! `/control` with `Authorization: Bearer <cookie>`, and prints what the node answers. The
//! endpoint accepts only loopback peers holding the cookie, so only the user who can read
//! the data directory can command the node. Stale files (the node was killed) are noticed
//! when nothing accepts the connection, and the CLI falls back to opening the files itself.
//!
//! This is the node's side (the files and the endpoint); the CLI's is
//! `crate::cli::control_client`.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::commands::{CliError, Request};
use crate::hub::HubMsg;
use crate::net::Shared;
use crate::paths::DataPaths;

/// Largest command the endpoint reads: commands are a few hundred bytes of JSON.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// How long the endpoint waits for a command's body once its headers are in.
pub const REQUEST_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the endpoint answers: the command's output or its error, one of the two.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlReply {
    /// What the command prints on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The cookie and address files of a running node; removed when dropped (graceful exit).
pub struct ControlFiles {
    cookie: PathBuf,
    addr: PathBuf,
    /// The secret the endpoint expects.
    pub secret: String,
}

impl ControlFiles {
    /// Writes a fresh random cookie (owner-only) and the address the CLI should dial.
    pub fn write(paths: &DataPaths, listen: SocketAddr) -> Result<Self, CliError> {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let cookie = paths.cookie();
        let addr = paths.addr();
        write_private(&cookie, secret.as_bytes())
            .map_err(CliError::io(format!("writing {}", cookie.display())))?;
        let files = ControlFiles {
            cookie,
            addr,
            secret,
        };
        // A node listening on every interface is still dialled on loopback.
        let dial = match listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
            }
            _ => listen,
        };
        write_private(&files.addr, format!("{dial}\n").as_bytes())
            .map_err(CliError::io(format!("writing {}", files.addr.display())))?;
        Ok(files)
    }
}

impl Drop for ControlFiles {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.cookie);
        let _ = fs::remove_file(&self.addr);
    }
}

/// Writes a file readable by its owner only, atomically (temp file, then rename). A file
/// left at the temporary name is removed first, never written through (it could be a link).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Compares two secrets without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /control`: loopback peers with the cookie only.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> (StatusCode, Json<ControlReply>) {
    let refuse = |status, why: &str| {
        (
            status,
            Json(ControlReply {
                output: None,
                error: Some(why.into()),
            }),
        )
    };
    // Behind a trusted proxy on this host, the proxy's loopback address is not the client's.
    if !shared.client(peer.ip(), &headers).is_loopback() {
        return refuse(StatusCode::FORBIDDEN, "control is only served on loopback");
    }
    let token = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_secret(token.as_bytes(), shared.cookie.as_bytes()) {
        return refuse(StatusCode::FORBIDDEN, "wrong or missing cookie");
    }
    // The body is read only now, from the cookie's holder, bounded in size and time.
    let read = axum::body::to_bytes(body, MAX_REQUEST_BYTES);
    let body = match tokio::time::timeout(REQUEST_READ_TIMEOUT, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "request body not sent in time"),
    };
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
    };
    let (reply, answer) = oneshot::channel();
    if shared
        .hub
        .send(HubMsg::Control { request, reply })
        .await
        .is_err()
    {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down");
    }
    match answer.await {
        Ok(Ok(output)) => (
            StatusCode::OK,
            Json(ControlReply {
                output: Some(output),
                error: None,
            }),
        ),
        Ok(Err(error)) => refuse(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down"),
    }
}
