//! The seed's printed forms: `printchain`'s blocks and transactions, `reindexutxo`'s answer.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use node_core::consensus::pow;
use node_core::{Chain, Transaction};

/// The seed's answer to `reindexutxo`.
pub fn reindexed(chain: &Chain) -> String {
    let mut txids = BTreeSet::new();
    chain.utxo().for_each(|op, _| {
        txids.insert(op.txid);
    });
    format!(
        "Done! There are {} transactions in the UTXO set.\n",
        txids.len()
    )
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The seed's `printchain`: every block from the tip down, with its transactions.
pub fn print_chain(chain: &Chain) -> String {
    let mut out = String::new();
    for height in (0..=chain.height()).rev() {
        let Some(block) = chain.body_at(height) else {
            continue;
        };
        let hash = block.hash();
        let _ = writeln!(out, "============ Block {hash} ============");
        let _ = writeln!(out, "Height: {height}");
        let _ = writeln!(out, "Prev. block: {}", block.header.prev);
        let _ = writeln!(out, "Timestamp: {}", block.header.timestamp);
        let _ = writeln!(out, "Nonce: {}", block.header.nonce);
        let pow_ok = pow::meets_target(&hash, block.header.bits);
        let _ = writeln!(out, "PoW: {pow_ok}\n");
        for tx in &block.transactions {
            out.push_str(&print_tx(tx));
        }
        out.push_str("\n\n");
    }
    out
}

/// The seed's `Transaction.String()`.
fn print_tx(tx: &Transaction) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "--- Transaction {}:", tx.txid());
    if let Some(cb) = &tx.coinbase {
        let _ = writeln!(
            out,
            "     Coinbase: height {}, data {}",
            cb.height,
            hex(&cb.data)
        );
    }
    for (i, input) in tx.inputs.iter().enumerate() {
        let _ = writeln!(out, "     Input {i}:");
        let _ = writeln!(out, "       TXID:      {}", input.prev.txid);
        let _ = writeln!(out, "       Out:       {}", input.prev.vout);
        let _ = writeln!(out, "       Signature: {}", hex(&input.signature));
        let _ = writeln!(out, "       PubKey:    {}", hex(&input.public_key));
    }
    for (i, output) in tx.outputs.iter().enumerate() {
        let _ = writeln!(out, "     Output {i}:");
        let _ = writeln!(out, "       Value:  {}", output.value);
        let _ = writeln!(out, "       Script: {}", hex(&output.pubkey_hash.0));
    }
    out
}
