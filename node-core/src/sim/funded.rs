//! A ready-made network for tests and the `simulate` example: relays in a full mesh, clients
//! spread over them, every client key funded on a chain the relays start with.

use alloc::vec::Vec;

use super::*;

/// The shape of a [`FundedNetwork`].
#[derive(Debug, Clone)]
pub struct NetworkPlan {
    /// Seed of the simulator's randomness.
    pub seed: u64,
    /// Link behaviour.
    pub links: LinkConfig,
    /// Relays, connected in a full mesh.
    pub relays: usize,
    /// The first `miners` clients announce themselves as miners (the caller starts mining).
    pub miners: usize,
    /// Outputs of 10 coins each client key starts with.
    pub rounds: usize,
    /// Proof-of-work bits (low, so blocks are found at once).
    pub bits: u32,
}

/// A network ready to run: relays in a full mesh, clients spread over them, every client
/// key funded with `rounds` outputs of 10 coins on a chain the relays start with (clients
/// download it).
pub struct FundedNetwork {
    /// The simulation.
    pub sim: Sim,
    /// Indices of the relay nodes.
    pub relays: Vec<usize>,
    /// Indices of the client nodes, in the order of the keys.
    pub clients: Vec<usize>,
}

impl FundedNetwork {
    /// Builds it. `client_keys[i]` belongs to client `i`.
    pub fn build(
        plan: &NetworkPlan,
        faucet: &KeyPair,
        client_keys: &[KeyPair],
    ) -> Result<Self, crate::chain::ChainError> {
        let NetworkPlan {
            seed,
            ref links,
            relays,
            miners,
            rounds,
            bits,
        } = *plan;
        let links = links.clone();
        let t0 = 1_700_000_000_000u64;
        let params = crate::consensus::params::ChainParams::default();
        let genesis =
            crate::chain::mine_genesis(faucet.pubkey_hash(), params.subsidy, t0, bits, b"sim");
        let mut chain = Chain::new(params, genesis, t0)?;
        let mut t = t0 + 1;
        let mine = |chain: &mut Chain, txs: Vec<Transaction>, t: u64| {
            let mut block = chain.template(faucet.pubkey_hash(), txs, 0, t, b"");
            let _ = pow::mine(&mut block.header);
            let _ = chain.accept_block(block, t);
        };
        for _ in 0..client_keys.len() * rounds {
            mine(&mut chain, Vec::new(), t);
            t += 1;
        }
        for _ in 0..rounds {
            let coins: Vec<OutPoint> = chain
                .utxo()
                .outputs_of(&faucet.pubkey_hash())
                .map(|(op, _)| op)
                .collect();
            let txs = client_keys
                .iter()
                .zip(coins)
                .map(|(k, op)| {
                    Transaction::new_signed(
                        faucet,
                        &[op],
                        alloc::vec![TxOut {
                            value: 10,
                            pubkey_hash: k.pubkey_hash()
                        }],
                    )
                })
                .collect();
            mine(&mut chain, txs, t);
            t += 1;
        }
        let mut sim = Sim::new(seed, links);
        let relay_ids: Vec<usize> = (0..relays.max(1))
            .map(|r| {
                let config = NodeConfig {
                    node_id: alloc::format!("{}", 3000 + r),
                    role: Role::Relay,
                    nonce: 100 + r as u64,
                    ..NodeConfig::default()
                };
                sim.add_node(config, Some(chain.clone()))
            })
            .collect();
        for (i, a) in relay_ids.iter().enumerate() {
            for b in &relay_ids[..i] {
                sim.connect(*a, *b);
            }
        }
        let mut clients = Vec::new();
        for (c, _) in client_keys.iter().enumerate() {
            let role = if c < miners {
                Role::Miner
            } else {
                Role::Wallet
            };
            let config = NodeConfig {
                node_id: alloc::format!("{}", 3100 + c),
                role,
                nonce: 1000 + c as u64,
                ..NodeConfig::default()
            };
            let idx = sim.add_node(config, None);
            sim.connect(idx, relay_ids[c % relay_ids.len()]);
            clients.push(idx);
        }
        Ok(FundedNetwork {
            sim,
            relays: relay_ids,
            clients,
        })
    }
}
