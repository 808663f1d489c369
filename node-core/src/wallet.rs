//! Building and signing payments from a key's coins, as the seed's `send` does.
//!
//! Coins are the key's confirmed outputs that no mempool transaction spends, plus its
//! unconfirmed change, so two payments in a row from one address work before a block.

use alloc::vec::Vec;
use core::fmt;

use crate::mempool::Mempool;
use crate::primitives::hash::PubKeyHash;
use crate::primitives::keys::KeyPair;
use crate::primitives::tx::{OutPoint, Transaction, TxOut};
use crate::utxo::UtxoSet;

/// Why a payment could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletError {
    /// The amount is zero.
    ZeroAmount,
    /// The key's spendable coins do not cover amount and fee.
    NotEnoughFunds {
        /// What the key can spend now.
        available: u64,
        /// What the payment needs.
        needed: u64,
    },
    /// Amount plus fee overflows.
    AmountTooLarge,
}

impl fmt::Display for WalletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalletError::ZeroAmount => write!(f, "amount must be at least 1"),
            WalletError::NotEnoughFunds { available, needed } => {
                write!(f, "not enough funds: have {available}, need {needed}")
            }
            WalletError::AmountTooLarge => write!(f, "amount is too large"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WalletError {}

/// What `from` can spend now: confirmed outputs not spent in the mempool, then unconfirmed
/// change, each with its value.
pub fn spendable(owner: &PubKeyHash, utxo: &UtxoSet, mempool: &Mempool) -> Vec<(OutPoint, u64)> {
    let mut coins: Vec<(OutPoint, u64)> = utxo
        .outputs_of(owner)
        .into_iter()
        .filter(|(op, _)| mempool.spender_of(op).is_none())
        .map(|(op, e)| (op, e.output.value))
        .collect();
    coins.extend(
        mempool
            .unspent_outputs_of(owner)
            .into_iter()
            .map(|(op, o)| (op, o.value)),
    );
    coins
}

/// Builds a signed payment of `amount` to `to` from `key`'s coins, change back to the key.
pub fn build_payment(
    key: &KeyPair,
    to: PubKeyHash,
    amount: u64,
    fee: u64,
    utxo: &UtxoSet,
    mempool: &Mempool,
) -> Result<Transaction, WalletError> {
    if amount == 0 {
        return Err(WalletError::ZeroAmount);
    }
    let needed = amount.checked_add(fee).ok_or(WalletError::AmountTooLarge)?;
    let from = key.pubkey_hash();
    let coins = spendable(&from, utxo, mempool);
    let available = coins.iter().fold(0u64, |a, (_, v)| a.saturating_add(*v));
    let mut picked = Vec::new();
    let mut total = 0u64;
    for (op, value) in coins {
        if total >= needed {
            break;
        }
        picked.push(op);
        total = total.saturating_add(value);
    }
    if total < needed {
        return Err(WalletError::NotEnoughFunds { available, needed });
    }
    let mut outputs = alloc::vec![TxOut {
        value: amount,
        pubkey_hash: to
    }];
    if total > needed {
        outputs.push(TxOut {
            value: total - needed,
            pubkey_hash: from,
        });
    }
    Ok(Transaction::new_signed(key, &picked, outputs))
}
