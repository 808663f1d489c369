//! The node as the page sees it: the exported `BrowserNode` class. It runs in the node's
//! worker (`www/node-worker.js`); the page's `window.node` is a proxy with the same calls
//! and events (`www/ui/remote-node.js`).
//!
//! # Usage (from the page or the console)
//! ```text
//! const node = await BrowserNode.start({ nodeId: '3001' });   // or ?node=3001 in the URL
//! const a = await node.createWallet();
//! await node.getBalance(a);                // 0
//! node.on('tip', ({ hash, height }) => console.log(height, hash));
//! await node.send(a, other, 1);            // txid, or throws Error('not enough funds: ...')
//! await node.startMining(a);
//! ```
//! Every command returns a promise of plain data (objects, arrays, numbers, strings) or
//! rejects with an `Error` whose message says what went wrong. Commands that need only the
//! wallet or the stored chain work offline, before the relay answers.
//!
//! Options of `start` (each also read from the page URL where noted):
//! `nodeId` (`?node=`, default `"3001"`), `relay` (`?relay=`, default `/ws` on this origin),
//! `connect` (default `true`), `workerUrl` (default `"./worker.js"`), `workers` (`?workers=`,
//! default `hardwareConcurrency - 1`), `miningThreshold` (default 2, the seed's rule),
//! `assumeValid` (`{height, hash}` of a block the relay that served the page vouches for:
//! signatures of the blocks leading to it are not checked during the initial sync; ignored
//! when `relay` or `?relay=` points at another relay than the page's own),
//! `verifyWorkers` (`?webcrypto=N`; default one per core, at most 4; 0 turns it off:
//! workers checking the signatures of incoming blocks and transactions with the browser's
//! WebCrypto, see [`crate::verifier`]), `verifyWorkerUrl` (default `"./verify-worker.js"`).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::driver::{Driver, DriverConfig};
use crate::error::NodeError;
use crate::miner::MinerPool;
use crate::peer_text::console_warn;
use crate::transport::relay_url;
use crate::verifier::VerifierPool;
use crate::views::to_js;

/// Largest whole number a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The node id used when neither the options nor the URL give one.
pub const DEFAULT_NODE_ID: &str = "3001";

/// One full node running in this tab.
#[wasm_bindgen]
pub struct BrowserNode {
    driver: Driver,
}

/// Runs a command in a promise: its value on success, a JS `Error` on failure.
fn promise<F>(f: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, NodeError>> + 'static,
{
    future_to_promise(async move { f.await.map_err(|e| JsError::from(e).into()) })
}

/// A settled promise of a command that completes at once: its value, or a JS `Error`.
/// (One non-generic helper instead of a future per command keeps the wasm small.)
fn settled(result: Result<JsValue, NodeError>) -> Promise {
    match result {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&JsError::from(e).into()),
    }
}

/// Reads option `key` from the options object, if present.
fn option(options: &JsValue, key: &str) -> Option<JsValue> {
    if !options.is_object() {
        return None;
    }
    Reflect::get(options, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Reads `?key=` from the page URL (in the node's worker: the query the page gave it).
fn url_param(key: &str) -> Option<String> {
    let search = crate::global_scope::location("search")?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(key).filter(|v| !v.is_empty())
}

/// A node id must be short and safe in a database name.
fn check_node_id(id: &str) -> Result<(), NodeError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(NodeError::BadOption(format!(
            "node id \"{}\" must be 1 to 32 letters, digits, '-' or '_'",
            node_core::util::escaped::Escaped(id)
        )))
    }
}

/// A coin amount from the page: a whole number at least 1 (a number or a numeric string).
pub fn parse_amount(value: &JsValue) -> Result<u64, NodeError> {
    // JavaScript formats the value (no float formatting code in the wasm for an error).
    let shown = value
        .as_string()
        .or_else(|| js_sys::JSON::stringify(value).ok().map(String::from))
        .unwrap_or_else(|| "?".into());
    let bad = || NodeError::InvalidAmount(shown.clone());
    let amount = if let Some(f) = value.as_f64() {
        if !f.is_finite() || f.fract() != 0.0 || !(1.0..=9_007_199_254_740_991.0).contains(&f) {
            return Err(bad());
        }
        f as u64
    } else if let Some(s) = value.as_string() {
        s.trim().parse::<u64>().map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    if amount == 0 {
        return Err(bad());
    }
    Ok(amount)
}

/// Builds the driver's configuration from the options and the page URL.
fn config_from(options: &JsValue) -> Result<DriverConfig, NodeError> {
    let node_id = option(options, "nodeId")
        .and_then(|v| {
            v.as_string()
                .or_else(|| v.as_f64().map(|f| (f as u64).to_string()))
        })
        .or_else(|| url_param("node"))
        .unwrap_or_else(|| DEFAULT_NODE_ID.to_string());
    check_node_id(&node_id)?;
    let relay = option(options, "relay")
        .and_then(|v| v.as_string())
        .or_else(|| url_param("relay"));
    let protocol = crate::global_scope::location("protocol").unwrap_or_default();
    let host = crate::global_scope::location("host").unwrap_or_default();
    let relay_url = relay_url(relay.as_deref(), &protocol, &host)?;
    let assume_valid = assume_valid_from_page_relay(
        assume_valid(options)?,
        &relay_url,
        relay_url_of_page(&protocol, &host).as_deref(),
    );
    let workers = option(options, "workers")
        .and_then(|v| v.as_f64())
        .or_else(|| {
            url_param("workers")
                .and_then(|s| s.parse::<u32>().ok())
                .map(f64::from)
        })
        .map_or_else(MinerPool::default_count, |f| f.clamp(1.0, 64.0) as usize);
    let mining_threshold = option(options, "miningThreshold")
        .and_then(|v| v.as_f64())
        .map_or(2, |f| f.clamp(1.0, 10_000.0) as usize);
    Ok(DriverConfig {
        node_id,
        relay_url,
        connect: option(options, "connect")
            .and_then(|v| v.as_bool())
            .unwrap_or(true),
        worker_url: option(options, "workerUrl")
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "./worker.js".into()),
        workers,
        mining_threshold,
        assume_valid,
        verify_workers: option(options, "verifyWorkers")
            .and_then(|v| v.as_f64())
            .or_else(|| {
                url_param("webcrypto")
                    .and_then(|s| s.parse::<u32>().ok())
                    .map(f64::from)
            })
            .map_or_else(VerifierPool::default_count, |f| f.clamp(0.0, 16.0) as usize),
        verify_worker_url: option(options, "verifyWorkerUrl")
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "./verify-worker.js".into()),

        replay_storage: option(options, "verifyStorage")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
    })
}

/// The relay that served this page: `/ws` on its origin; `None` for a page without a host.
fn relay_url_of_page(protocol: &str, host: &str) -> Option<String> {
    relay_url(None, protocol, host).ok()
}

/// The one block hash a tab takes on trust comes from the relay that served its page, so it
/// is kept only when the tab's relay is that relay (`page_relay`). With `?relay=` the tab talks
/// to a relay whose word the page's code never carried: it syncs checking every signature.
/// (Failover later changes the relay the tab talks to, never this value: node-core skips
/// signatures only on the branch leading to this exact block.)
pub fn assume_valid_from_page_relay(
    assume_valid: Option<(u64, node_core::BlockHash)>,
    relay: &str,
    page_relay: Option<&str>,
) -> Option<(u64, node_core::BlockHash)> {
    let assume_valid = assume_valid?;
    if page_relay == Some(relay) {
        return Some(assume_valid);
    }
    console_warn(&format!(
        "assumeValid ignored: a tab takes a block hash only from the relay that served its page ({}), and this tab connects to {relay}",
        page_relay.unwrap_or("none")
    ));
    None
}

/// The bytes of keys handed over by the page: a `Uint8Array` of at most a full wallet's
/// records; anything else (a plain array, a string, a view of other memory) is refused
/// before a byte is copied.
fn key_bytes(keys: &JsValue) -> Result<Vec<u8>, NodeError> {
    use crate::bounded_copy::{bytes, NotCopied};
    bytes(keys, crate::wallet::MAX_WALLET_KEYS * 40).map_err(|e| match e {
        NotCopied::TooLong(n) => crate::wallet::bad_size(n),
        NotCopied::NotBytes => {
            NodeError::BadKeys("expected the Uint8Array that exportKeys gives".into())
        }
    })
}

/// Reads the `assumeValid` option: `{height, hash}`, or nothing.
fn assume_valid(options: &JsValue) -> Result<Option<(u64, node_core::BlockHash)>, NodeError> {
    let Some(v) = option(options, "assumeValid").filter(|v| v.is_object()) else {
        return Ok(None);
    };
    let height = Reflect::get(&v, &"height".into())
        .ok()
        .and_then(|h| h.as_f64())
        .filter(|h| (0.0..=MAX_SAFE_INTEGER).contains(h) && h.fract() == 0.0)
        .ok_or_else(|| {
            NodeError::BadOption("assumeValid.height must be a whole number below 2^53".into())
        })?;
    let hash = Reflect::get(&v, &"hash".into())
        .ok()
        .and_then(|h| h.as_string())
        .and_then(|h| node_core::BlockHash::from_hex(&h))
        .ok_or_else(|| NodeError::BadOption("assumeValid.hash must be 64 hex digits".into()))?;
    Ok(Some((height as u64, hash)))
}

#[wasm_bindgen]
impl BrowserNode {
    /// Starts this tab's node: opens its databases, restores the stored chain and wallet,
    /// and begins connecting to the relay in the background.
    pub async fn start(options: JsValue) -> Result<BrowserNode, JsError> {
        crate::install_panic_hook();
        let config = config_from(&options)?;
        let driver = Driver::start(config).await?;
        Ok(BrowserNode { driver })
    }

    /// This node's id (the seed's NODE_ID).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.driver.node_id().to_string()
    }

    /// Makes a new key pair in this node's wallet; resolves to its address.
    #[wasm_bindgen(js_name = createWallet)]
    pub fn create_wallet(&self) -> Promise {
        self.add_keys(None, None)
    }

    /// The one promise of `createWallet`, `importKeys` and `sealKeys` (see
    /// [`Driver::add_keys`]).
    fn add_keys(&self, backup: Option<Vec<u8>>, seal: Option<bool>) -> Promise {
        let d = self.driver.clone();
        promise(async move { d.add_keys(backup, seal).await })
    }

    /// Resolves to the wallet's secret keys as bytes (40 per key: 32 secret, 8 creation
    /// time): for the page to encrypt into a backup file with the user's passphrase
    /// (www/ui/backup.js). Never send them anywhere.
    #[wasm_bindgen(js_name = exportKeys)]
    pub fn export_keys(&self) -> Promise {
        let bytes = self.driver.export_keys();
        let bytes: JsValue = js_sys::Uint8Array::from(bytes.as_slice()).into();
        Promise::resolve(&bytes)
    }

    /// Adds the keys of a decrypted backup (`exportKeys`' bytes) that this wallet does not
    /// hold; resolves to how many were added. Every key is checked before any is stored:
    /// bad bytes reject and change nothing.
    #[wasm_bindgen(js_name = importKeys)]
    pub fn import_keys(&self, bytes: JsValue) -> Promise {
        match key_bytes(&bytes) {
            Ok(bytes) => self.add_keys(Some(bytes), None),
            Err(e) => settled(Err(e)),
        }
    }

    /// Keeps the wallet's keys at rest only as the page encrypts them with the user's
    /// passphrase (www/ui/key-lock.js), or not. `sealed`: the wallet's database keeps the
    /// addresses only (true) or the keys too (false). `keys`: `exportKeys`' bytes, held in
    /// memory again (unlock); or null, which with `sealed` locks: the node forgets every
    /// key. Every key is checked before anything changes.
    #[wasm_bindgen(js_name = sealKeys)]
    pub fn seal_keys(&self, keys: JsValue, sealed: bool) -> Promise {
        match keys.is_null() {
            true => self.add_keys(None, Some(sealed)),
            false => match key_bytes(&keys) {
                Ok(bytes) => self.add_keys(Some(bytes), Some(sealed)),
                Err(e) => settled(Err(e)),
            },
        }
    }

    /// Resolves to the wallet's addresses, oldest first.
    #[wasm_bindgen(js_name = listAddresses)]
    pub fn list_addresses(&self) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.list_addresses())))
    }

    /// Resolves to `[{address, balance, spendable}]` for the wallet's addresses.
    pub fn balances(&self) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.balances())))
    }

    /// Resolves to the confirmed balance of any address.
    #[wasm_bindgen(js_name = getBalance)]
    pub fn get_balance(&self, address: String) -> Promise {
        let d = &self.driver;
        settled(d.balance(&address).map(|b| JsValue::from_f64(b as f64)))
    }

    /// Pays `amount` coins from a wallet address to `to`; resolves to the txid.
    pub fn send(&self, from: String, to: String, amount: JsValue) -> Promise {
        let result = parse_amount(&amount).and_then(|a| self.driver.send(&from, &to, a));
        settled(result.map(JsValue::from))
    }

    /// Mines to `address` whenever enough transactions wait (the seed's `-miner`).
    #[wasm_bindgen(js_name = startMining)]
    pub fn start_mining(&self, address: String) -> Promise {
        let d = &self.driver;
        settled(d.start_mining(&address).map(|()| JsValue::UNDEFINED))
    }

    /// Stops mining.
    #[wasm_bindgen(js_name = stopMining)]
    pub fn stop_mining(&self) -> Promise {
        self.driver.stop_mining();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Sets the number of mining workers (1 to 64).
    #[wasm_bindgen(js_name = setWorkers)]
    pub fn set_workers(&self, count: u32) -> Promise {
        let d = &self.driver;
        settled(d.set_workers(count as usize).map(|()| JsValue::UNDEFINED))
    }

    /// Resolves to `{nodeId, height, tip, peers, mempool, syncing, targetHeight, mining,
    /// hashrate: {total, workers}, connected, assumeValid: {height, hash} | null,
    /// storageWarnings: [line], ...}`. Strings that peers chose are escaped (see
    /// [`crate::peer_text`]).
    pub fn status(&self) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.status())))
    }

    /// Resolves to the active chain's blocks, newest first, each with its transactions
    /// (at most `limit` blocks if given).
    #[wasm_bindgen(js_name = printChain)]
    pub fn print_chain(&self, limit: Option<u32>) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.print_chain(limit.map(|l| l as usize)))))
    }

    /// Resolves to one stored block (active or side branch) by hash, or `null`.
    #[wasm_bindgen(js_name = getBlock)]
    pub fn get_block(&self, hash: String) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.block(&hash))))
    }

    /// Resolves to every known block of the last `depth` heights (default 30), side
    /// branches included: `[{hash, prev, height, time, active, tip}]`.
    #[wasm_bindgen(js_name = blockTree)]
    pub fn block_tree(&self, depth: Option<u32>) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.block_tree(u64::from(depth.unwrap_or(30))))))
    }

    /// Resolves to `{state: "pending" | "confirmed", height, block, confirmations, tx}` for a
    /// transaction waiting in the mempool or confirmed in the active chain's newest blocks
    /// (see [`crate::tx_index`]), or `null`.
    #[wasm_bindgen(js_name = getTransaction)]
    pub fn get_transaction(&self, txid: String) -> Promise {
        let d = &self.driver;
        settled(Ok(d.transaction(&txid)))
    }

    /// Resolves to `{indexedFrom, items}`: what paid or spent `address`, newest first
    /// (waiting payments first), each as `getTransaction` gives it; at most `limit` items.
    /// Blocks below `indexedFrom` are not indexed (see [`crate::tx_index`]).
    #[wasm_bindgen(js_name = addressHistory)]
    pub fn address_history(&self, address: String, limit: Option<u32>) -> Promise {
        let d = &self.driver;
        settled(d.address_history(&address, limit.map(|l| l as usize)))
    }

    /// Resolves to the connected peers.
    pub fn peers(&self) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.peers())))
    }

    /// Resolves to the nodes heard of through `addr`.
    #[wasm_bindgen(js_name = knownNodes)]
    pub fn known_nodes(&self) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.known_nodes())))
    }

    /// Resolves to the mempool's transactions.
    pub fn mempool(&self) -> Promise {
        let d = &self.driver;
        settled(Ok(to_js(&d.mempool())))
    }

    /// Calls `callback(payload)` on every `event`: "tip", "block", "sync", "tx",
    /// "txRejected", "peers", "message" (batched per 250 ms tick, the newest 400),
    /// "messagesSkipped" (how many older ones were not shown), "mined", "hashrate",
    /// "connection", "wallet", "payment" (one of this tab's payments changed state: pending,
    /// confirmed, reorganised or dropped; see [`crate::views::PaymentView`]); or
    /// `callback(name, payload)` for `"*"`.
    pub fn on(&self, event: String, callback: Function) {
        self.driver.on(&event, callback);
    }

    /// Removes a callback given to `on`.
    pub fn off(&self, event: String, callback: Function) {
        self.driver.off(&event, &callback);
    }

    /// Connects to the relay now (after `disconnect`, or to retry at once).
    pub fn connect(&self) -> Promise {
        let d = &self.driver;
        settled(d.connect().map(|()| JsValue::UNDEFINED))
    }

    /// Closes the relay connection and stops reconnecting.
    pub fn disconnect(&self) -> Promise {
        self.driver.disconnect();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Resolves once everything the node has done so far is written to IndexedDB.
    pub fn flush(&self) -> Promise {
        let d = self.driver.clone();
        promise(async move {
            d.flush().await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops the node: connection, timer and workers. Its databases keep what was written.
    pub fn close(&self) {
        self.driver.close();
    }
}
