//! A ready-made network for tests and the `simulate` example: relays in a full mesh, clients
//! spread over them, every client key funded on a chain the relays start with.

use alloc::vec::Vec;

use super::*;

/// Outputs of one funding transaction (about 31 KB, well under MAX_TX_SIZE), and so the
/// subsidy over 10 coins of the simulated network.
const FUNDING_OUTPUTS_PER_TX: usize = 1_000;
/// Funding transactions per block: about 0.8 MB, under MAX_BLOCK_SIZE.
const FUNDING_TXS_PER_BLOCK: usize = 25;

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
        // The network pays a coinbase enough for one funding transaction, and the faucet
        // mines one block per such transaction; the next blocks hand the coins out. Funding
        // at the seed's subsidy of 10 took a block per coin: the chain, and every client's
        // download of it, grew with clients x rounds (a 1,000-node run spent its time and
        // memory syncing 2,000 funding blocks into 1,000 nodes).
        let per_output = 10u64;
        let params = crate::consensus::params::ChainParams {
            subsidy: per_output * FUNDING_OUTPUTS_PER_TX as u64,
            ..Default::default()
        };
        let outputs: Vec<TxOut> = (0..rounds)
            .flat_map(|_| client_keys.iter())
            .map(|k| TxOut {
                value: per_output,
                pubkey_hash: k.pubkey_hash(),
            })
            .collect();
        let genesis =
            crate::chain::mine_genesis(faucet.pubkey_hash(), params.subsidy, t0, bits, b"sim");
        let mut chain = Chain::new(params.clone(), genesis, t0)?;
        let mut t = t0 + 1;
        let mut mine = |chain: &mut Chain, txs: Vec<Transaction>| {
            let mut block = chain.template(faucet.pubkey_hash(), txs, 0, t, b"");
            let _ = pow::mine(&mut block.header);
            let _ = chain.accept_block(block, t);
            t += 1;
        };
        let chunks: Vec<&[TxOut]> = outputs.chunks(FUNDING_OUTPUTS_PER_TX).collect();
        for _ in 1..chunks.len() {
            mine(&mut chain, Vec::new());
        }
        let coins: Vec<OutPoint> = chain
            .utxo()
            .outputs_of(&faucet.pubkey_hash())
            .into_iter()
            .map(|(op, _)| op)
            .collect();
        let funding: Vec<Transaction> = chunks
            .iter()
            .zip(coins)
            .map(|(chunk, coin)| Transaction::new_signed(faucet, &[coin], chunk.to_vec()))
            .collect();
        for txs in funding.chunks(FUNDING_TXS_PER_BLOCK) {
            mine(&mut chain, txs.to_vec());
        }
        let mut sim = Sim::new(seed, links);
        let relay_ids: Vec<usize> = (0..relays.max(1))
            .map(|r| {
                let config = NodeConfig {
                    node_id: alloc::format!("{}", 3000 + r),
                    role: Role::Relay,
                    nonce: 100 + r as u64,
                    params: params.clone(),
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
                params: params.clone(),
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
