//! Plain data handed to the page: what `status()`, `printChain()`, `peers()` and the events
//! return, as camelCase objects built with `serde-wasm-bindgen`.
//!
//! Hashes are lower-case hex, addresses Base58Check, amounts whole coins, times milliseconds
//! since the Unix epoch. Nonces are decimal strings (they exceed JavaScript's safe integers).
//! Every string a peer or relay chose (node ids, URLs, reasons, message summaries) passes
//! [`peer_text::shown`] here, the one place views are built: escaped and cut to length.

use node_core::chain::Chain;
use node_core::node::{Notification, PeerInfo};
use node_core::primitives::block::Block;
use node_core::primitives::hash::PubKeyHash;
use node_core::primitives::tx::Transaction;
use node_core::protocol::PeerAddr;
use node_core::utxo::UtxoSet;
use node_core::{Address, Mempool};
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::peer_text::{shown, shown_opt, MAX_NODE_ID_CHARS, MAX_REASON_CHARS, MAX_URL_CHARS};

/// Converts a view to a plain JavaScript value (objects, arrays, numbers, `null`).
pub fn to_js<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// The node's summary.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub node_id: String,
    pub height: u64,
    pub tip: Option<String>,
    pub genesis: Option<String>,
    pub peers: usize,
    pub mempool: usize,
    pub syncing: bool,
    pub target_height: u64,
    /// How far the download got: above `height` while blocks wait for the assume-valid block.
    pub downloaded_height: u64,
    pub orphans: usize,
    /// Mining is switched on (to `mining_to`).
    pub mining: bool,
    pub mining_to: Option<String>,
    /// A template is being hashed right now (mining waits for enough transactions).
    pub mining_active: bool,
    pub hashrate: HashRateView,
    pub blocks_mined: u64,
    pub workers: usize,
    pub connected: bool,
    /// "connecting", "open" or "closed".
    pub connection: String,
    pub relay: String,
    pub storage_error: Option<String>,
    /// What was found damaged in storage at start and how it was handled, one line each.
    pub storage_warnings: Vec<String>,
    pub miner_error: Option<String>,
    /// Workers checking signatures with WebCrypto (0: checked in wasm).
    pub verify_workers: usize,
    /// Blocks and transactions whose signatures those workers vouched for.
    pub signatures_vouched: u64,
    /// The block the relay that served the page vouched for, if the tab took its word.
    pub assume_valid: Option<AssumeValidView>,
    /// Bytes of the node's wasm memory: its chain, coins and caches (it never shrinks).
    pub memory_bytes: u64,
}

/// A block vouched for by the relay that served the page.
#[derive(Debug, Clone, Serialize)]
pub struct AssumeValidView {
    pub height: u64,
    pub hash: String,
}

/// Hash rates, hashes per second.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HashRateView {
    pub total: f64,
    pub workers: Vec<f64>,
}

/// One transaction input.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputView {
    pub txid: String,
    pub vout: u32,
    /// The address of the key that signed it.
    pub address: String,
}

/// One transaction output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputView {
    pub value: u64,
    pub address: String,
}

/// One transaction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TxView {
    pub txid: String,
    pub coinbase: bool,
    pub inputs: Vec<InputView>,
    pub outputs: Vec<OutputView>,
}

impl TxView {
    /// The view of `tx`.
    pub fn of(tx: &Transaction) -> Self {
        TxView {
            txid: tx.txid().to_string(),
            coinbase: tx.is_coinbase(),
            inputs: tx
                .inputs
                .iter()
                .map(|i| InputView {
                    txid: i.prev.txid.to_string(),
                    vout: i.prev.vout,
                    address: Address(PubKeyHash::of_public_key(&i.public_key)).to_string(),
                })
                .collect(),
            outputs: tx
                .outputs
                .iter()
                .map(|o| OutputView {
                    value: o.value,
                    address: Address(o.pubkey_hash).to_string(),
                })
                .collect(),
        }
    }
}

/// One block, as `printchain` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    pub hash: String,
    pub height: u64,
    pub prev: String,
    pub time: u64,
    pub bits: u32,
    pub nonce: String,
    pub merkle_root: String,
    pub size: usize,
    pub active: bool,
    pub pow_valid: bool,
    pub txs: Vec<TxView>,
}

impl BlockView {
    /// The view of `block`, with what the chain knows of it.
    pub fn of(block: &Block, chain: &Chain) -> Self {
        let hash = block.hash();
        BlockView {
            hash: hash.to_string(),
            height: chain.entry(&hash).map_or(0, |e| e.height),
            prev: block.header.prev.to_string(),
            time: block.header.timestamp,
            bits: block.header.bits,
            nonce: block.header.nonce.to_string(),
            merkle_root: block.header.merkle_root.to_string(),
            size: block.encoded_size(),
            active: chain.is_active(&hash),
            pow_valid: node_core::consensus::pow::meets_target(&hash, block.header.bits),
            txs: block.transactions.iter().map(TxView::of).collect(),
        }
    }
}

/// A node of the block tree picture.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeNodeView {
    pub hash: String,
    pub prev: String,
    pub height: u64,
    pub time: u64,
    pub active: bool,
    pub tip: bool,
}

/// The blocks with height above `tip height - depth`, every branch, and no more than
/// `depth` above the tip: blocks held for the assume-valid block sit above the tip by the
/// thousand during a download, and drawing them all each second slowed the sync with every
/// block held.
pub fn block_tree(chain: &Chain, depth: u64) -> Vec<TreeNodeView> {
    let from = chain.height().saturating_sub(depth);
    let to = chain.height().saturating_add(depth);
    let tip = chain.tip();
    let nodes: Vec<TreeNodeView> = chain
        .entries()
        .filter(|(_, e)| e.height >= from && e.height <= to)
        .map(|(h, e)| TreeNodeView {
            hash: h.to_string(),
            prev: e.prev.to_string(),
            height: e.height,
            time: e.timestamp,
            active: chain.is_active(&h),
            tip: h == tip,
        })
        .collect();
    // By height, the active block first among blocks at one height.
    node_core::util::ordering::sorted_by_key(nodes, |n| {
        n.height.saturating_mul(2) + u64::from(!n.active)
    })
}

/// A wallet address with its balances.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    pub address: String,
    /// Confirmed on the active chain.
    pub balance: u64,
    /// What it can spend now, counting unconfirmed payments in the mempool.
    pub spendable: u64,
}

impl AddressView {
    /// The balances of `address`.
    pub fn of(address: &Address, utxo: Option<&UtxoSet>, mempool: &Mempool) -> Self {
        let (balance, spendable) = utxo.map_or((0, 0), |u| {
            let spendable = node_core::wallet::spendable(&address.0, u, mempool)
                .iter()
                .fold(0u64, |a, (_, v)| a.saturating_add(*v));
            (u.balance(&address.0), spendable)
        });
        AddressView {
            address: address.to_string(),
            balance,
            spendable,
        }
    }
}

/// A key was added to the wallet (the "wallet" event).
#[derive(Debug, Clone, Serialize)]
pub struct WalletEvent {
    pub address: String,
}

/// A mempool transaction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MempoolTxView {
    pub fee: u64,
    #[serde(flatten)]
    pub tx: TxView,
}

/// A connected peer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerView {
    pub id: u64,
    pub node_id: Option<String>,
    pub role: Option<String>,
    pub outbound: bool,
    pub height: u64,
    pub score: u32,
    pub rtt_ms: Option<u64>,
    pub url: String,
}

impl PeerView {
    /// The view of a peer connected through `url`.
    pub fn of(p: &PeerInfo, url: &str) -> Self {
        PeerView {
            id: p.id,
            node_id: shown_opt(p.node_id.as_deref(), MAX_NODE_ID_CHARS),
            role: p.role.map(|r| r.name().to_string()),
            outbound: p.outbound,
            height: p.height,
            score: p.score,
            rtt_ms: p.rtt_ms,
            url: shown(url, MAX_URL_CHARS),
        }
    }
}

/// A node heard of through `addr`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownNodeView {
    pub node_id: String,
    pub url: Option<String>,
    pub role: String,
}

impl KnownNodeView {
    /// The view of an address record.
    pub fn of(a: &PeerAddr) -> Self {
        KnownNodeView {
            node_id: shown(&a.node_id, MAX_NODE_ID_CHARS),
            url: shown_opt(a.url.as_deref(), MAX_URL_CHARS),
            role: a.role.name().to_string(),
        }
    }
}

/// The connection to the relay, for the "connection" event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    /// "connecting", "open" or "closed".
    pub state: String,
    pub url: String,
    pub attempt: u32,
    /// When closed: milliseconds until the next attempt.
    pub retry_in_ms: Option<u64>,
    pub code: Option<u16>,
    pub reason: Option<String>,
}

impl ConnectionView {
    /// The view of the connection to `url` (a learned relay's URL, a relay's close reason:
    /// both shown escaped).
    pub fn of(
        state: &str,
        url: &str,
        attempt: u32,
        retry_in_ms: Option<u64>,
        code: Option<u16>,
        reason: Option<&str>,
    ) -> Self {
        ConnectionView {
            state: state.to_string(),
            url: shown(url, MAX_URL_CHARS),
            attempt,
            retry_in_ms,
            code,
            reason: shown_opt(reason, MAX_REASON_CHARS),
        }
    }
}

/// One message in or out, for the protocol inspector.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// "in" or "out".
    pub direction: &'static str,
    pub peer: u64,
    pub peer_node: Option<String>,
    pub command: String,
    pub summary: String,
    pub refused: Option<String>,
    pub time: u64,
}

/// Payloads of the events, by name.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventPayload {
    Tip {
        hash: String,
        height: u64,
        #[serde(rename = "reorgDepth")]
        reorg_depth: usize,
    },
    Block {
        /// "connected", "side" or "rejected".
        kind: &'static str,
        hash: String,
        height: Option<u64>,
        txs: Option<usize>,
        reason: Option<String>,
        from: Option<u64>,
    },
    Sync {
        height: u64,
        target: u64,
    },
    Tx {
        txid: String,
        from: Option<u64>,
        local: bool,
    },
    TxRejected {
        txid: String,
        reason: String,
        from: Option<u64>,
        /// Refused by a peer (a `reject` message) rather than by this node.
        remote: bool,
    },
    Peers {
        /// "up", "down", "penalised" or "learned".
        kind: &'static str,
        peer: Option<u64>,
        #[serde(rename = "nodeId")]
        node_id: Option<String>,
        role: Option<String>,
        height: Option<u64>,
        reason: Option<String>,
        score: Option<u32>,
        nodes: Vec<KnownNodeView>,
    },
    Message(MessageView),
    Mined {
        hash: String,
        height: u64,
    },
}

/// Payload of "messagesSkipped": protocol messages the page was not shown (more arrived
/// between two ticks than its inspector keeps).
#[derive(Debug, Clone, Serialize)]
pub struct MessagesSkipped {
    /// How many.
    pub count: u64,
}

/// The event name and payload of a notification (`None` for what the page does not show).
/// (`peer_node` is a `dyn` so that this large function is in the page module once.)
pub fn event_for(
    n: &Notification,
    peer_node: &dyn Fn(u64) -> Option<String>,
    now: u64,
) -> Option<(&'static str, EventPayload)> {
    use EventPayload as P;
    let ev = match n {
        Notification::TipChanged {
            tip,
            height,
            reorg_depth,
        } => (
            "tip",
            P::Tip {
                hash: tip.to_string(),
                height: *height,
                reorg_depth: *reorg_depth,
            },
        ),
        Notification::BlockConnected { hash, height, txs } => (
            "block",
            P::Block {
                kind: "connected",
                hash: hash.to_string(),
                height: Some(*height),
                txs: Some(*txs),
                reason: None,
                from: None,
            },
        ),
        Notification::SideBlock { hash } => (
            "block",
            P::Block {
                kind: "side",
                hash: hash.to_string(),
                height: None,
                txs: None,
                reason: None,
                from: None,
            },
        ),
        Notification::BlockRejected { hash, reason, from } => (
            "block",
            P::Block {
                kind: "rejected",
                hash: hash.to_string(),
                height: None,
                txs: None,
                reason: Some(shown(reason, MAX_REASON_CHARS)),
                from: *from,
            },
        ),
        Notification::TxAccepted { txid, from } => (
            "tx",
            P::Tx {
                txid: txid.to_string(),
                from: *from,
                local: from.is_none(),
            },
        ),
        Notification::TxRejected { txid, reason, from } => (
            "txRejected",
            P::TxRejected {
                txid: txid.to_string(),
                reason: shown(reason, MAX_REASON_CHARS),
                from: *from,
                remote: false,
            },
        ),
        Notification::RejectReceived { peer, hash, reason } => (
            "txRejected",
            P::TxRejected {
                txid: hash.to_string(),
                reason: shown(reason, MAX_REASON_CHARS),
                from: Some(*peer),
                remote: true,
            },
        ),
        Notification::SyncProgress { height, target } => (
            "sync",
            P::Sync {
                height: *height,
                target: *target,
            },
        ),
        Notification::PeerUp {
            peer,
            node_id,
            role,
            height,
        } => (
            "peers",
            P::Peers {
                kind: "up",
                peer: Some(*peer),
                node_id: Some(shown(node_id, MAX_NODE_ID_CHARS)),
                role: Some(role.name().to_string()),
                height: Some(*height),
                reason: None,
                score: None,
                nodes: Vec::new(),
            },
        ),
        Notification::PeerDown { peer, reason } => (
            "peers",
            P::Peers {
                kind: "down",
                peer: Some(*peer),
                node_id: None,
                role: None,
                height: None,
                reason: Some(shown(reason, MAX_REASON_CHARS)),
                score: None,
                nodes: Vec::new(),
            },
        ),
        Notification::PeerPenalised {
            peer,
            score,
            reason,
        } => (
            "peers",
            P::Peers {
                kind: "penalised",
                peer: Some(*peer),
                node_id: shown_opt(peer_node(*peer).as_deref(), MAX_NODE_ID_CHARS),
                role: None,
                height: None,
                reason: Some(shown(reason, MAX_REASON_CHARS)),
                score: Some(*score),
                nodes: Vec::new(),
            },
        ),
        Notification::AddrLearned(addrs) => (
            "peers",
            P::Peers {
                kind: "learned",
                peer: None,
                node_id: None,
                role: None,
                height: None,
                reason: None,
                score: None,
                nodes: addrs.iter().map(KnownNodeView::of).collect(),
            },
        ),
        Notification::Mined { hash, height } => (
            "mined",
            P::Mined {
                hash: hash.to_string(),
                height: *height,
            },
        ),
        Notification::MessageIn {
            peer,
            command,
            summary,
            refused,
        } => (
            "message",
            P::Message(MessageView {
                direction: "in",
                peer: *peer,
                peer_node: shown_opt(peer_node(*peer).as_deref(), MAX_NODE_ID_CHARS),
                command: shown(command, MAX_NODE_ID_CHARS),
                summary: shown(summary, MAX_REASON_CHARS),
                refused: shown_opt(refused.as_deref(), MAX_REASON_CHARS),
                time: now,
            }),
        ),
        Notification::MessageOut {
            peers,
            command,
            summary,
        } => {
            let peer = peers.first().copied().unwrap_or(0);
            (
                "message",
                P::Message(MessageView {
                    direction: "out",
                    peer,
                    peer_node: shown_opt(peer_node(peer).as_deref(), MAX_NODE_ID_CHARS),
                    command: shown(command, MAX_NODE_ID_CHARS),
                    summary: shown(summary, MAX_REASON_CHARS),
                    refused: None,
                    time: now,
                }),
            )
        }
    };
    Some(ev)
}

/// A plain object of `fields`. The payment and history views are built with this one
/// non-generic function rather than a `Serialize` derive each: a derive costs the page
/// module about a kilobyte gzipped per view.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// A whole number for the page, or `null`.
pub fn number(n: Option<u64>) -> JsValue {
    n.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

/// A string for the page, or `null`.
pub fn text(s: Option<String>) -> JsValue {
    s.map_or(JsValue::NULL, |s| JsValue::from_str(&s))
}

/// Where a transaction is confirmed: height, block hash, confirmations.
pub type Confirmed = Option<(u64, String, u64)>;

/// The `height`, `block` and `confirmations` fields of a transaction confirmed at `place`
/// (all `null` while it waits).
pub fn place_fields(place: Confirmed) -> [(&'static str, JsValue); 3] {
    let (h, b, c) = match place {
        Some((h, b, c)) => (Some(h), Some(b), Some(c)),
        None => (None, None, None),
    };
    [
        ("height", number(h)),
        ("block", text(b)),
        ("confirmations", number(c)),
    ]
}

/// A transaction and where it is: `{state: "pending" | "confirmed", height, block,
/// confirmations, tx}` (`getTransaction` and each item of `addressHistory`).
pub fn placed_tx(tx: &Transaction, place: Confirmed) -> JsValue {
    let state = if place.is_some() {
        "confirmed"
    } else {
        "pending"
    };
    let [h, b, c] = place_fields(place);
    object(&[
        ("state", JsValue::from_str(state)),
        h,
        b,
        c,
        ("tx", to_js(&TxView::of(tx))),
    ])
}
