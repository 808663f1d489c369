//! A minimal HTTP/1.1 client for loopback: the CLI's control requests (and the tests' page
//! and status checks). One request per connection; hyper does the parsing.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Nothing accepted the connection (a stale address file, most likely).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The connection did not open in time.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(SocketAddr),
    /// The request or response failed midway.
    #[error("HTTP exchange with {addr} failed: {what}")]
    Exchange {
        /// Where.
        addr: SocketAddr,
        /// What went wrong.
        what: String,
    },
}

/// A response: status, headers and the whole body.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Response {
    /// A header's value as text, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request to `addr` and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Response, HttpError> {
    let exchange = |what: String| HttpError::Exchange { addr, what };
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| HttpError::ConnectTimeout(addr))?
        .map_err(|source| HttpError::Connect { addr, source })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| exchange(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string());
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| exchange(e.to_string()))?;
        let value = HeaderValue::from_str(v).map_err(|e| exchange(e.to_string()))?;
        req = req.header(name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| exchange(e.to_string()))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| exchange(e.to_string()))?;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| exchange(e.to_string()))?
        .to_bytes();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `GET path` on `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<Response, HttpError> {
    request(addr, Method::GET, path, &[], Vec::new()).await
}
