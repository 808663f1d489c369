//! What the page asks through `window.node` ([`crate::facade`]): wallet, payments, mining,
//! and read-only views of the node.

use node_core::{Address, BlockHash};
use wasm_bindgen::JsValue;

use super::payments::Place;
use super::{now_ms, Driver};
use crate::error::{parse_address, NodeError};
use crate::peer_text::{shown, MAX_REASON_CHARS, MAX_URL_CHARS};
use crate::verifier::VerifierPool;
use crate::views::{self, to_js, AddressView, BlockView, StatusView};

impl Driver {
    /// Makes a new key; returns its address.
    pub async fn create_wallet(&self) -> Result<String, NodeError> {
        let address = self.add_keys(None, None).await?;
        Ok(address.as_string().unwrap_or_default())
    }

    /// Without `backup`, makes a new key and returns its address; with it, adds the keys
    /// of a backup this wallet does not hold and returns how many (balances follow from the
    /// chain: nothing else changes). A "wallet" event for each key added. With `seal`, seals
    /// the keys at rest or not instead, `backup` being the keys to unlock (see
    /// [`crate::wallet::Change::Seal`]).
    pub async fn add_keys(
        &self,
        backup: Option<Vec<u8>>,
        seal: Option<bool>,
    ) -> Result<JsValue, NodeError> {
        use crate::wallet::Change;
        self.check_open()?;
        let change = match (seal, backup.as_deref()) {
            (Some(sealed), keys) => Change::Seal { keys, sealed },
            (None, Some(records)) => Change::Import(records),
            (None, None) => Change::New,
        };
        let added = self.inner.wallet.change(change, now_ms()).await?;
        for a in &added {
            self.emit(
                "wallet",
                &to_js(&views::WalletEvent {
                    address: a.to_string(),
                }),
            );
        }
        Ok(match (backup, seal, added.first()) {
            (None, None, Some(a)) => JsValue::from_str(&a.to_string()),
            _ => JsValue::from_f64(added.len() as f64),
        })
    }

    /// The wallet's keys, as a backup holds them (see [`crate::wallet::Wallet::export`]).
    pub fn export_keys(&self) -> Vec<u8> {
        self.inner.wallet.export()
    }

    /// The wallet's addresses, oldest first.
    pub fn list_addresses(&self) -> Vec<String> {
        self.inner
            .wallet
            .addresses()
            .iter()
            .map(Address::to_string)
            .collect()
    }

    /// The wallet's addresses with their balances.
    pub fn balances(&self) -> Vec<AddressView> {
        let node = self.inner.node.borrow();
        let utxo = node.chain().map(|c| c.utxo());
        self.inner
            .wallet
            .addresses()
            .iter()
            .map(|a| AddressView::of(a, utxo, node.mempool()))
            .collect()
    }

    /// Confirmed balance of any address.
    pub fn balance(&self, address: &str) -> Result<u64, NodeError> {
        let a = parse_address(address)?;
        Ok(self.inner.node.borrow().balance(&a.0))
    }

    /// Pays `amount` from a wallet address to any address; returns the txid.
    pub fn send(&self, from: &str, to: &str, amount: u64) -> Result<String, NodeError> {
        self.check_open()?;
        let from_address = parse_address(from)?;
        let to_address = parse_address(to)?;
        let key = self
            .inner
            .wallet
            .key(&from_address)
            .ok_or_else(|| NodeError::NotInWallet(from_address.to_string()))?;
        if amount == 0 {
            return Err(NodeError::InvalidAmount("0".into()));
        }
        let result =
            self.inner
                .node
                .borrow_mut()
                .send_payment(now_ms(), &key, to_address.0, amount, 0);
        self.drain();
        let txid = result.map_err(NodeError::Send)?;
        self.track_payment(txid);
        Ok(txid.to_string())
    }

    /// Mines to `address` whenever enough transactions wait.
    pub fn start_mining(&self, address: &str) -> Result<(), NodeError> {
        self.check_open()?;
        let a = parse_address(address)?;
        *self.inner.miner_error.borrow_mut() = None;
        self.inner.node.borrow_mut().start_mining(now_ms(), a.0);
        self.drain();
        Ok(())
    }

    /// Stops mining.
    pub fn stop_mining(&self) {
        self.inner.node.borrow_mut().stop_mining();
        self.inner.miner.borrow_mut().stop();
        self.drain();
        self.emit_hashrate();
    }

    /// Changes the number of mining workers.
    pub fn set_workers(&self, count: usize) -> Result<(), NodeError> {
        self.inner.miner.borrow_mut().set_count(count)
    }

    /// The node's summary.
    pub fn status(&self) -> StatusView {
        let s = self.inner.node.borrow().status();
        let assume_valid = self.inner.node.borrow().config().params.assume_valid;
        let link = self.inner.link.borrow();
        let miner = self.inner.miner.borrow();
        StatusView {
            node_id: s.node_id,
            height: s.height,
            tip: s.tip.map(|h| h.to_string()),
            genesis: s.genesis.map(|h| h.to_string()),
            peers: s.peers,
            mempool: s.mempool,
            syncing: s.syncing,
            target_height: s.target_height,
            downloaded_height: s.downloaded_height,
            orphans: s.orphans,
            mining: s.mining_to.is_some(),
            mining_to: s.mining_to.map(|p| Address(p).to_string()),
            mining_active: miner.is_active(),
            hashrate: {
                drop(miner);
                self.hashrate_view()
            },
            blocks_mined: self.inner.blocks_mined.get(),
            workers: self.inner.miner.borrow().count(),
            connected: link.open,
            connection: link.state.to_string(),
            relay: shown(&link.url, MAX_URL_CHARS),
            storage_error: self.inner.storage_error.borrow().clone(),
            storage_warnings: self.inner.storage_warnings.clone(),
            miner_error: self
                .inner
                .miner_error
                .borrow()
                .as_deref()
                .map(|m| shown(m, MAX_REASON_CHARS)),
            verify_workers: self
                .inner
                .verifier
                .as_ref()
                .map_or(0, VerifierPool::working_count),
            signatures_vouched: self.inner.vouched.get(),
            assume_valid: assume_valid.map(|(height, hash)| views::AssumeValidView {
                height,
                hash: hash.to_string(),
            }),
            memory_bytes: wasm_memory_bytes(),
        }
    }

    /// Active blocks, newest first (at most `limit`).
    pub fn print_chain(&self, limit: Option<usize>) -> Vec<BlockView> {
        let node = self.inner.node.borrow();
        let Some(chain) = node.chain() else {
            return Vec::new();
        };
        let limit = limit.unwrap_or(usize::MAX);
        (0..=chain.height())
            .rev()
            .take(limit)
            .filter_map(|h| chain.body_at(h))
            .map(|b| BlockView::of(&b, chain))
            .collect()
    }

    /// A stored block by hash (active or side branch).
    pub fn block(&self, hash: &str) -> Option<BlockView> {
        let hash = BlockHash::from_hex(hash)?;
        let node = self.inner.node.borrow();
        let chain = node.chain()?;
        chain.body(&hash).map(|b| BlockView::of(&b, chain))
    }

    /// Every known block of the last `depth` heights, side branches included.
    pub fn block_tree(&self, depth: u64) -> Vec<views::TreeNodeView> {
        let node = self.inner.node.borrow();
        node.chain()
            .map(|c| views::block_tree(c, depth))
            .unwrap_or_default()
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<views::PeerView> {
        let url = self.inner.link.borrow().url.clone();
        self.inner
            .node
            .borrow()
            .peers()
            .iter()
            .map(|p| views::PeerView::of(p, &url))
            .collect()
    }

    /// Nodes heard of.
    pub fn known_nodes(&self) -> Vec<views::KnownNodeView> {
        self.inner
            .node
            .borrow()
            .known_addrs()
            .iter()
            .map(views::KnownNodeView::of)
            .collect()
    }

    /// Transactions waiting in the mempool, in arrival order.
    pub fn mempool(&self) -> Vec<views::MempoolTxView> {
        self.inner
            .node
            .borrow()
            .mempool()
            .in_order()
            .into_iter()
            .map(|(tx, fee)| views::MempoolTxView {
                fee,
                tx: views::TxView::of(tx),
            })
            .collect()
    }
}

/// Items an address history returns at most unless asked for fewer: enough for a page.
const MAX_HISTORY_ITEMS: usize = 500;

impl Driver {
    /// A transaction waiting in the mempool or confirmed in an indexed active block, and
    /// where it is (see [`views::placed_tx`]); `null` if neither.
    pub fn transaction(&self, txid: &str) -> JsValue {
        let Some(txid) = node_core::Txid::from_hex(txid) else {
            return JsValue::NULL;
        };
        let place = self.place_of(&txid);
        let node = self.inner.node.borrow();
        let found = match place {
            Place::Waiting => node.mempool().get(&txid).map(|tx| (tx.clone(), None)),
            Place::Confirmed(height, hash) => node.chain().and_then(|chain| {
                let tx = chain
                    .body(&hash)?
                    .transactions
                    .iter()
                    .find(|t| t.txid() == txid)?
                    .clone();
                let confirmations = chain.height().saturating_sub(height) + 1;
                Some((tx, Some((height, hash.to_string(), confirmations))))
            }),
            Place::Unknown => None,
        };
        found.map_or(JsValue::NULL, |(tx, place)| views::placed_tx(&tx, place))
    }

    /// What paid or spent `address`, newest first: `{indexedFrom, items}`, waiting
    /// payments first, then the indexed blocks' (at most `limit` items,
    /// [`MAX_HISTORY_ITEMS`] unless fewer are asked for; each item as [`views::placed_tx`]:
    /// the page works out what each one did to the address). `indexedFrom`: the lowest
    /// height indexed, older history is not there.
    pub fn address_history(
        &self,
        address: &str,
        limit: Option<usize>,
    ) -> Result<JsValue, NodeError> {
        let owner = parse_address(address)?.0;
        let limit = limit.unwrap_or(MAX_HISTORY_ITEMS).min(MAX_HISTORY_ITEMS);
        let node = self.inner.node.borrow();
        let index = self.inner.index.borrow();
        let items = js_sys::Array::new();
        for (tx, _) in node.mempool().in_order().into_iter().rev() {
            if crate::tx_index::touched(tx).contains(&owner) {
                items.push(&views::placed_tx(tx, None));
            }
        }
        if let Some(chain) = node.chain() {
            let block_of = |h: &BlockHash| chain.body(h);
            let room = limit.saturating_sub(items.length() as usize);
            for (height, hash, txid) in index.history(&owner, &block_of, room) {
                let Some(tx) = chain
                    .body(&hash)
                    .and_then(|b| b.transactions.iter().find(|t| t.txid() == txid).cloned())
                else {
                    continue;
                };
                let confirmations = chain.height().saturating_sub(height) + 1;
                items.push(&views::placed_tx(
                    &tx,
                    Some((height, hash.to_string(), confirmations)),
                ));
            }
        }
        Ok(views::object(&[
            ("indexedFrom", views::number(index.lowest_height())),
            ("items", items.into()),
        ]))
    }
}

/// Bytes of this module's linear memory (64 KiB pages).
fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size::<0>() as u64) << 16
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}
