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
use node_core::{Chain, Transaction};
use rand_core::{OsRng, RngCore};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::commands::RelayError;
use crate::net::ws::ws_config;
use crate::util::peer_text::shown;

/// Longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// Sends `tx` to the relay at `url` as node `node_id` on `chain`'s network.
pub async fn submit(
    url: &str,
    node_id: &str,
    chain: &Chain,
    tx: &Transaction,
) -> Result<(), RelayError> {
    tokio::time::timeout(DEADLINE, exchange(url, node_id, chain, tx))
        .await
        .map_err(|_| RelayError::Timeout(DEADLINE))?
}

async fn exchange(
    url: &str,
    node_id: &str,
    chain: &Chain,
    tx: &Transaction,
) -> Result<(), RelayError> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
        .await
        .map_err(|e| RelayError::Connect {
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
    let closed = |e: tokio_tungstenite::tungstenite::Error| RelayError::Closed(e.to_string());
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
                return Err(RelayError::Closed(if why.is_empty() {
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
                    return Err(RelayError::WrongNetwork {
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
            Message::Reject { hash, reason } if hash == txid.to_hash() => rejected = Some(reason),
            Message::Tx(t) if t.txid() == txid => in_mempool = Some(true),
            Message::NotFound(items) if items.contains(&InvItem::Tx(txid)) => {
                in_mempool = Some(false)
            }
            Message::Pong(n) if n == ping && sent => {
                let _ = ws.close(None).await;
                return match (rejected, in_mempool) {
                    (Some(reason), _) => Err(RelayError::Rejected(shown(&reason))),
                    (None, Some(false)) => Err(RelayError::NotKept),
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
    Err(RelayError::Closed("connection lost".into()))
}
