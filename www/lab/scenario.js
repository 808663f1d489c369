// @ts-check
// The seed's scenario (DESIGN.md's acceptance scenario), step by step across the lab's
// nodes: the relay is the central node, the first lab node the wallet node, the second the
// miner. Each step says what was sent, who checked what, and why.
import { until } from './runner.js';
import { drawBalances } from './balances.js';

/** @typedef {import('./runner.js').Step} Step */
/** @typedef {import('./lab.js').Lab} Lab */
/** @typedef {import('./nodes.js').LabNode} LabNode */

/** The coins the seed's scenario ends with, by role. */
const EXPECTED = { WALLET_1: 9, WALLET_2: 9, WALLET_3: 1, WALLET_4: 1, MINER_WALLET: 10 };

/** @param {string} a */
const short = (a) => `${a.slice(0, 10)}…`;

/** The nine steps. @param {Lab} lab @returns {Step[]} */
export function seedScenario(lab) {
  /** @type {{wallet?: LabNode, miner?: LabNode, w: string[], minerAddr: string, height: number}} */
  const r = { w: [], minerAddr: '', height: 0 };
  const wallet = () => /** @type {LabNode} */ (r.wallet);
  const miner = () => /** @type {LabNode} */ (r.miner);
  return [
    {
      title: '1. The central node holds the chain',
      run: async (say) => {
        const central = await lab.relay.central();
        const s = await until('the relay to answer', () => lab.relay.status());
        [r.wallet, r.miner] = await lab.ensureNodes(2);
        for (const n of lab.nodes) if (n.cut) await n.heal();
        say(`The relay is the central node: its chain is ${s.height + 1} blocks long, and its genesis block paid CENTRAL (${short(central)}) the subsidy of 10.`);
        say(`Node ${wallet().id} plays the wallet node and node ${miner().id} the miner. Each is the normal node page of its id, running in its own frame below, with its chain in its own IndexedDB.`);
      },
    },
    {
      title: '2. The wallet node creates WALLET_1 … WALLET_4',
      run: async (say) => {
        r.w = [];
        for (let i = 0; i < 4; i++) r.w.push(await wallet().node.createWallet());
        say(`Node ${wallet().id} made four P-256 key pairs in its tab and keeps them in its IndexedDB; each address is the Base58Check of the public key's hash.`);
        say(`WALLET_1..4 = ${r.w.map(short).join(', ')}. No message left the tab: keys never travel.`);
      },
    },
    {
      title: '3. CENTRAL sends 10 to WALLET_1 and 10 to WALLET_2, each mined at once',
      run: async (say) => {
        const before = (await until('the relay to answer', () => lab.relay.status())).height;
        await lab.relay.fund(r.w[0], 10);
        await lab.relay.fund(r.w[1], 10);
        r.height = before + 2;
        say('The relay signed each payment with CENTRAL\'s key and mined a block for it at once (send --mine); each coinbase pays CENTRAL, as in the seed.');
        say('It announces each new block with inv; a node that lacks it answers getdata; the relay sends the block. Watch the blue, amber and green messages on the map.');
      },
    },
    {
      title: '4. The wallet node downloads the blocks',
      run: async (say) => {
        await until(`node ${wallet().id} to reach height ${r.height}`, async () => (await wallet().status()).height >= r.height);
        const b1 = await wallet().node.getBalance(r.w[0]);
        const b2 = await wallet().node.getBalance(r.w[1]);
        say(`Before storing each block, node ${wallet().id} checked its proof of work, that it links to its tip, its Merkle root, and every input's signature: it trusts nothing the relay says.`);
        say(`WALLET_1 = ${b1}, WALLET_2 = ${b2}.`);
        if (b1 !== 10 || b2 !== 10) throw new Error(`expected WALLET_1 = 10 and WALLET_2 = 10, got ${b1} and ${b2}`);
      },
    },
    {
      title: '5. The miner node syncs and mines to MINER_WALLET',
      run: async (say) => {
        for (const n of lab.nodes) {
          if (n !== miner() && (await n.status()).mining) {
            await n.node.stopMining();
            say(`Node ${n.id} stopped mining, so that one miner plays the scenario.`);
          }
        }
        r.minerAddr = await miner().node.createWallet();
        await until(`node ${miner().id} to reach height ${r.height}`, async () => (await miner().status()).height >= r.height);
        await miner().node.startMining(r.minerAddr);
        say(`Node ${miner().id} downloaded and checked the same blocks, then started mining to MINER_WALLET (${short(r.minerAddr)}).`);
        say('It mines only when its mempool holds two transactions (the seed\'s rule), so for now it waits.');
      },
    },
    {
      title: '6. The wallet node sends 1 from WALLET_1 to WALLET_3 and 1 from WALLET_2 to WALLET_4',
      run: async (say) => {
        const t1 = await wallet().node.send(r.w[0], r.w[2], 1);
        const t2 = await wallet().node.send(r.w[1], r.w[3], 1);
        say(`Node ${wallet().id} built each payment from its unspent outputs, signed it in the tab, and sent it to the relay as a tx message (${String(t1).slice(0, 10)}…, ${String(t2).slice(0, 10)}…). The change, 9, goes back to the payer.`);
      },
    },
    {
      title: '7. The relay forwards both; the miner, holding two, mines a block',
      run: async (say) => {
        await until(`node ${miner().id} to mine block ${r.height + 1}`, async () => (await miner().status()).height >= r.height + 1);
        say('The relay checked each transaction (its inputs unspent, its signatures valid) before it kept it and announced it onward with inv; the miner fetched both with getdata.');
        say(`With two in its mempool, node ${miner().id} built a block paying itself the subsidy, hashed it in its workers until the hash was under the target, and announced it. The relay validated it and passed it on.`);
      },
    },
    {
      title: '8. The wallet node receives the block',
      run: async (say) => {
        await until(`node ${wallet().id} and the relay to reach height ${r.height + 1}`, async () =>
          (await wallet().status()).height >= r.height + 1 && ((await lab.relay.status())?.height ?? 0) >= r.height + 1);
        say(`Node ${wallet().id} got the block without a reload, checked it as every node does, and moved its tip: its two payments are confirmed.`);
      },
    },
    {
      title: '9. Balances in every node',
      run: async (say) => {
        const addrs = { WALLET_1: r.w[0], WALLET_2: r.w[1], WALLET_3: r.w[2], WALLET_4: r.w[3], MINER_WALLET: r.minerAddr };
        const target = r.height + 1;
        const live = lab.nodes.filter((n) => !n.cut);
        for (const n of live) await until(`node ${n.id} to reach height ${target}`, async () => (await n.status()).height >= target);
        const ok = await drawBalances(lab, addrs, EXPECTED, live);
        say(ok ? `Every node — the relay and ${live.map((n) => n.id).join(', ')} — computes the same balances from its own copy of the chain: 9, 9, 1, 1, 10.`
          : 'Some node disagrees: see the table.');
        if (!ok) throw new Error('a balance differs from 9/9/1/1/10');
      },
    },
  ];
}
