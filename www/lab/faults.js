// @ts-check
// Faults made on purpose, each played as narrated steps and each undone at its end: two
// miners racing across a partition (a fork, then a reorganisation onto the heavier branch),
// and a double spend from both sides of a partition (the losing payment disappears from
// every wallet when the partition heals). A partition here is one node cut off from the
// relay (its connection closed, no reconnecting) while the relay and the others carry on.
import { until } from './runner.js';
import { drawBalances } from './balances.js';

/** @typedef {import('./runner.js').Step} Step */
/** @typedef {import('./lab.js').Lab} Lab */
/** @typedef {import('./nodes.js').LabNode} LabNode */

/** @param {string} a */
const short = (a) => `${String(a).slice(0, 10)}…`;

/**
 * The shared shape of both faults: node A (cut off) and node B (with the relay) each spend
 * coins they hold and mine the payments; the relay's side then mines one more block, so it
 * has more work; healing A makes it reorganise onto that branch.
 * @param {Lab} lab
 * @param {{doubleSpend: boolean}} how
 * @returns {Step[]}
 */
function partitionRace(lab, how) {
  /** @type {{a?: LabNode, b?: LabNode, aCoins: string[], bCoins: string[], aPay: string, bPay: string, aMine: string, bMine: string, base: number, aTip: string, bTip: string, aTxids: string[]}} */
  const r = { aCoins: [], bCoins: [], aPay: '', bPay: '', aMine: '', bMine: '', base: 0, aTip: '', bTip: '', aTxids: [] };
  const A = () => /** @type {LabNode} */ (r.a);
  const B = () => /** @type {LabNode} */ (r.b);
  const relayTip = async () => (await lab.relay.status())?.tip ?? null;
  return [
    {
      title: '1. Two miners, each with coins to spend',
      run: async (say) => {
        const nodes = await lab.ensureNodes(3);
        [r.a, r.b] = [nodes[1], nodes[2]];
        for (const n of lab.nodes) {
          if (n.cut) await n.heal();
          if ((await n.status()).mining) await n.node.stopMining();
        }
        r.aCoins = [await A().node.createWallet(), await A().node.createWallet()];
        if (how.doubleSpend) {
          // B holds A's keys: the same coins can now be spent from two places.
          const keys = await A().node.exportKeys();
          await B().node.importKeys(B().bytesHere(keys));
          r.bCoins = r.aCoins;
          say(`Node ${A().id} made two addresses; the lab copied node ${A().id}'s keys into node ${B().id} (exportKeys → importKeys, inside this page): both nodes can now spend the same coins.`);
        } else {
          r.bCoins = [await B().node.createWallet(), await B().node.createWallet()];
        }
        for (const c of new Set([...r.aCoins, ...r.bCoins])) await lab.relay.fund(c, 10);
        r.base = (await until('the relay to answer', () => lab.relay.status())).height;
        for (const n of [A(), B()]) await until(`node ${n.id} to reach height ${r.base}`, async () => (await n.status()).height >= r.base);
        r.aPay = await A().node.createWallet();
        r.bPay = await B().node.createWallet();
        // Each miner's block pays a fourth address, so the payees hold only what was paid.
        r.aMine = await A().node.createWallet();
        r.bMine = await B().node.createWallet();
        say(`CENTRAL paid 10 to each of ${[...new Set([...r.aCoins, ...r.bCoins])].map(short).join(', ')}; both nodes are at height ${r.base}. Other nodes stopped mining so that only these two race.`);
      },
    },
    {
      title: `2. Cut node ${'A'} off`,
      run: async (say) => {
        await A().cutOff();
        await until(`node ${A().id} to have no peers`, async () => (await A().status()).peers === 0);
        say(`Node ${A().id} closed its connection and will not reconnect: on the map its edge is broken. It still has its chain, its wallet and its miner.`);
      },
    },
    {
      title: '3. Both sides mine',
      run: async (say) => {
        await A().node.startMining(r.aMine);
        await B().node.startMining(r.bMine);
        for (const c of r.aCoins) r.aTxids.push(String(await A().node.send(c, r.aPay, how.doubleSpend ? 5 : 1)));
        for (const c of r.bCoins) await B().node.send(c, r.bPay, how.doubleSpend ? 5 : 1);
        say(how.doubleSpend
          ? `Node ${A().id} pays 5 + 5 to ${short(r.aPay)}; node ${B().id} pays the same coins, 5 + 5, to ${short(r.bPay)}. Neither can know: they do not hear each other.`
          : `Each node pays two small payments from its own coins; each miner now holds two transactions and mines.`);
        await until(`node ${A().id} to mine block ${r.base + 1}`, async () => (await A().status()).height >= r.base + 1);
        await until(`node ${B().id} and the relay to reach block ${r.base + 1}`, async () =>
          (await B().status()).height >= r.base + 1 && ((await lab.relay.status())?.height ?? 0) >= r.base + 1);
        r.aTip = String((await A().status()).tip);
        r.bTip = String((await B().status()).tip);
        if (r.aTip === r.bTip) throw new Error('both sides mined the same block: the partition did not hold');
        say(`A fork: node ${A().id} has block ${r.base + 1} = ${short(r.aTip)}, node ${B().id} and the relay have block ${r.base + 1} = ${short(r.bTip)}. Both are valid; each side believes its own.`);
      },
    },
    {
      title: '4. The relay\'s side mines one more block',
      run: async (say) => {
        await lab.relay.fund(r.bPay, 1);
        await until(`the relay to reach height ${r.base + 2}`, async () => ((await lab.relay.status())?.height ?? 0) >= r.base + 2);
        say(`CENTRAL paid 1 to ${short(r.bPay)}, mined at once on top of ${short(r.bTip)}: the relay's branch has two blocks after the fork, node ${A().id}'s one. Most work wins.`);
      },
    },
    {
      title: `5. Heal: node ${'A'} reconnects and reorganises`,
      run: async (say) => {
        await A().heal();
        await until(`node ${A().id} to drop its block ${short(r.aTip)}`, async () => {
          const mine = await A().node.getBlock(r.aTip);
          const theirs = await A().node.getBlock(r.bTip);
          return mine && !mine.active && theirs && theirs.active;
        });
        const live = lab.nodes.filter((n) => !n.cut);
        await until('every node to be on the relay\'s tip', async () => {
          const tip = await relayTip();
          for (const n of live) if ((await n.status()).tip !== tip) return false;
          return true;
        });
        say(`Node ${A().id} heard of the heavier branch, downloaded it, checked it, rolled its own block back (with its undo data) and moved onto the relay's branch. Its block ${short(r.aTip)} is now a side branch.`);
        if (how.doubleSpend) {
          await until(`node ${A().id}'s losing payments to leave its mempool`, async () => {
            const pool = /** @type {{txid: string}[]} */ (await A().node.mempool());
            return !pool.some((t) => r.aTxids.includes(t.txid));
          });
          const ok = await drawBalances(lab,
            { [`A's payee`]: r.aPay, [`A's miner`]: r.aMine, [`B's payee`]: r.bPay, [`B's miner`]: r.bMine },
            { [`A's payee`]: 0, [`A's miner`]: 0, [`B's payee`]: 11, [`B's miner`]: 10 }, live);
          say(`Node ${A().id}'s payments spent coins the winning branch had spent already: they went back to its mempool on the rollback, were found to be double spends, and were dropped. ${short(r.aPay)} has 0 in every node; ${short(r.bPay)} has 10 + 1. The reward of node ${A().id}'s lost block is gone too.`);
          if (!ok) throw new Error('a node still counts the losing double spend');
        } else {
          say('Its two payments were not lost: they went back to its mempool and will be mined again on the winning branch.');
        }
      },
    },
    {
      title: 'Undo',
      run: async (say) => {
        await A().node.stopMining();
        await B().node.stopMining();
        say(`Both miners stopped; node ${A().id} is connected again. The network is whole.`);
      },
    },
  ];
}

/** Two miners race across a partition. @param {Lab} lab */
export const raceScenario = (lab) => partitionRace(lab, { doubleSpend: false });

/** The same coins spent on both sides of a partition. @param {Lab} lab */
export const doubleSpendScenario = (lab) => partitionRace(lab, { doubleSpend: true });
