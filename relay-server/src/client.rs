//! The CLI's `send` without `--mine`: hand a signed payment to the central node as a real
//! peer would.
//!
//! Handshake (`version` naming this node's genesis, `verack`), then `tx`, `getdata` for that
//! same tx, and `ping(n)`. A WebSocket delivers frames in order and the relay handles them in
//! order, so everything it has to say about the transaction comes before its `pong(n)`: a
//! `reject` for our txid means it was refused; the tx itself in answer to the `getdata` means
//! it sits in the relay's mempool; a `notfound` without a reject means the relay is keeping it
//! aside because it does not know the coins it spends (our chain is behind the relay's, or
//! they were spent already) — reported as a failure too, since nobody will mine it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{
    decode_frame, encode_frame, InvItem, Message, Role, Version, PROTOCOL_VERSION,
};
use node_core::{BlockHash, Chain, Transaction};
use rand_core::{OsRng, RngCore};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::peer_conn::ws_config;
use crate::peer_text::shown;

/// Longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// Why the relay did not take the payment.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The relay could not be reached.
    #[error("cannot reach the relay at {url}: {what}")]
    Connect {
        /// Where.
        url: String,
        /// What went wrong.
        what: String,
    },
    /// The relay is on another network.
    #[error("the relay is on another chain (its genesis is {theirs}, ours is {ours})")]
    WrongNetwork {
        /// Our genesis.
        ours: BlockHash,
        /// Theirs.
        theirs: BlockHash,
    },
    /// The connection ended before the relay answered.
    #[error("the relay closed the connection before answering: {0}")]
    Closed(String),
    /// The relay refused the transaction.
    #[error("the relay refused the transaction: {0}")]
    Rejected(String),
    /// The relay kept the transaction aside: it does not know the coins it spends.
    #[error(
        "the relay does not know the coins this payment spends \
         (is this node's chain behind the relay's? start it with --peer to sync)"
    )]
    NotKept,
    /// The relay said nothing in time.
    #[error("the relay did not answer within {} s", DEADLINE.as_secs())]
    Timeout,
}

/// Sends `tx` to the relay at `url` as node `node_id` on `chain`'s network.
pub async fn submit(
    url: &str,
    node_id: &str,
    chain: &Chain,
    tx: &Transaction,
) -> Result<(), ClientError> {
    tokio::time::timeout(DEADLINE, exchange(url, node_id, chain, tx))
        .await
        .map_err(|_| ClientError::Timeout)?
}

async fn exchange(
    url: &str,
    node_id: &str,
    chain: &Chain,
    tx: &Transaction,
) -> Result<(), ClientError> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
        .await
        .map_err(|e| ClientError::Connect {
            url: url.to_string(),
            what: e.to_string(),
        })?;
    let nonce = OsRng.next_u64();
    let version = Version {
        protocol: PROTOCOL_VERSION,
        genesis: chain.genesis_hash(),
        best_height: chain.height(),
        tip: chain.tip(),
        chain_work: chain.tip_work(),
        node_id: node_id.to_string(),
        role: Role::Wallet,
        listen_url: None,
        nonce,
        user_agent: format!("relay-server-cli/{}", env!("CARGO_PKG_VERSION")),
    };
    let closed = |e: tokio_tungstenite::tungstenite::Error| ClientError::Closed(e.to_string());
    let send = |m: &Message| WsMessage::Binary(encode_frame(m).into());
    ws.send(send(&Message::Version(version)))
        .await
        .map_err(closed)?;

    let txid = tx.txid();
    let ping = nonce;
    let mut got_version = false;
    let mut got_verack = false;
    let mut sent = false;
    let mut rejected: Option<String> = None;
    let mut in_mempool: Option<bool> = None;
    while let Some(frame) = ws.next().await {
        let bytes = match frame.map_err(closed)? {
            WsMessage::Binary(b) => b,
            WsMessage::Close(f) => {
                let why = f.map(|f| f.reason.to_string()).unwrap_or_default();
                // The relay's words, shown on the user's terminal: escaped.
                return Err(ClientError::Closed(if why.is_empty() {
                    "no reason given".into()
                } else {
                    shown(&why)
                }));
            }
            _ => continue,
        };
        let Ok(message) = decode_frame(&bytes) else {
            continue;
        };
        tracing::debug!(command = message.command(),
            summary = %shown(&message.summary()), "from the relay");
        match message {
            Message::Version(v) => {
                if v.genesis != chain.genesis_hash() {
                    return Err(ClientError::WrongNetwork {
                        ours: chain.genesis_hash(),
                        theirs: v.genesis,
                    });
                }
                got_version = true;
                ws.send(send(&Message::Verack)).await.map_err(closed)?;
            }
            Message::Verack => got_verack = true,
            Message::Ping(n) => {
                ws.send(send(&Message::Pong(n))).await.map_err(closed)?;
            }
            Message::Reject { hash, reason } if hash == txid.0 => rejected = Some(reason),
            Message::Tx(t) if t.txid() == txid => in_mempool = Some(true),
            Message::NotFound(items) if items.contains(&InvItem::Tx(txid)) => {
                in_mempool = Some(false)
            }
            Message::Pong(n) if n == ping && sent => {
                let _ = ws.close(None).await;
                return match (rejected, in_mempool) {
                    (Some(reason), _) => Err(ClientError::Rejected(shown(&reason))),
                    (None, Some(false)) => Err(ClientError::NotKept),
                    (None, _) => Ok(()),
                };
            }
            _ => {}
        }
        if got_version && got_verack && !sent {
            // Sent together, so the relay answers the getdata before anything (a miner's
            // block, say) can take the transaction out of its mempool.
            ws.feed(send(&Message::Tx(tx.clone())))
                .await
                .map_err(closed)?;
            ws.feed(send(&Message::GetData(vec![InvItem::Tx(txid)])))
                .await
                .map_err(closed)?;
            ws.send(send(&Message::Ping(ping))).await.map_err(closed)?;
            sent = true;
        }
    }
    Err(ClientError::Closed("connection lost".into()))
}
