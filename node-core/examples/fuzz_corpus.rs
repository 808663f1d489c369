//! Writes the seed corpus of the fuzz targets (node-core/fuzz/corpus/*): one valid frame of
//! every command, a block and a transaction, so the fuzzer starts from inputs that decode.
//!
//! `cargo run -p node-core --example fuzz_corpus`

use std::fs;
use std::path::{Path, PathBuf};

use node_core::chain::mine_genesis;
use node_core::protocol::{encode_frame, InvItem, Message, PeerAddr, Role, Version, HEADER_LEN};
use node_core::{BlockHash, KeyPair, OutPoint, PubKeyHash, Transaction, TxOut, Txid};
use rand_chacha::rand_core::SeedableRng;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    let key = KeyPair::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(1));
    let genesis = mine_genesis(key.pubkey_hash(), 10, 1_700_000_000_000, 4, b"corpus");
    let h = genesis.hash();
    let spend = Transaction::new_signed(
        &key,
        &[OutPoint {
            txid: genesis.transactions[0].txid(),
            vout: 0,
        }],
        vec![TxOut {
            value: 10,
            pubkey_hash: PubKeyHash([2; 20]),
        }],
    );
    let messages = vec![
        Message::Version(Version {
            protocol: 1,
            genesis: h,
            best_height: 0,
            tip: h,
            chain_work: 16,
            node_id: "3001".into(),
            role: Role::Wallet,
            listen_url: Some("ws://127.0.0.1:3000/ws".into()),
            nonce: 9,
            user_agent: "corpus".into(),
        }),
        Message::Verack,
        Message::GetBlocks {
            locator: vec![h],
            stop: None,
        },
        Message::Inv(vec![InvItem::Block(h), InvItem::Tx(spend.txid())]),
        Message::GetData(vec![InvItem::Block(h)]),
        Message::Block(genesis.clone()),
        Message::Tx(spend.clone()),
        Message::NotFound(vec![InvItem::Tx(Txid::ZERO)]),
        Message::GetAddr,
        Message::Addr(vec![PeerAddr {
            node_id: "3000".into(),
            url: None,
            role: Role::Relay,
        }]),
        Message::Ping(1),
        Message::Pong(1),
        Message::Reject {
            hash: BlockHash::ZERO.to_hash(),
            reason: "corpus".into(),
        },
    ];
    for (i, m) in messages.iter().enumerate() {
        let frame = encode_frame(m);
        write(&root.join("frame_decode"), m.command(), &frame)?;
        // node_frames: a command index byte, then the payload after its variant tag.
        let mut seed = vec![i as u8];
        seed.extend_from_slice(&frame[HEADER_LEN + 1..]);
        write(&root.join("node_frames"), m.command(), &seed)?;
    }
    write(&root.join("block_tx_decode"), "block", &genesis.encode())?;
    write(&root.join("block_tx_decode"), "tx", &spend.encode())?;
    println!("corpus written to {}", root.display());
    Ok(())
}
