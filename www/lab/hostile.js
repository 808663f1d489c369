// @ts-check
// A hostile relay, once: the relay forges the next block it sends one node (its nonce
// changed, so its proof of work fails). The node must refuse it, say which rule it broke,
// and score the peer that sent it, while the other nodes take the real block; then the node
// reconnects and fetches the real one. Needs the relay's lab links (the lab key).
import { until } from './runner.js';

/** @typedef {import('./runner.js').Step} Step */
/** @typedef {import('./lab.js').Lab} Lab */
/** @typedef {import('./nodes.js').LabNode} LabNode */

/** The steps. @param {Lab} lab @returns {Step[]} */
export function hostileScenario(lab) {
  /** @type {{victim?: LabNode, others: LabNode[], height: number, rejected: any, penalised: any, stop: (() => void)[]}} */
  const r = { others: [], height: 0, rejected: null, penalised: null, stop: [] };
  const victim = () => /** @type {LabNode} */ (r.victim);
  return [
    {
      title: '1. The relay turns hostile towards one node',
      run: async (say) => {
        if (!lab.linked) throw new Error('this needs the relay\'s lab links: open the lab on the relay\'s own machine (127.0.0.1)');
        const nodes = await lab.ensureNodes(2);
        for (const n of lab.nodes) if (n.cut) await n.heal();
        r.victim = nodes[1];
        r.others = lab.nodes.filter((n) => n !== r.victim);
        r.stop.push(victim().on('block', (/** @type {any} */ b) => { if (b.kind === 'rejected') r.rejected = b; }));
        r.stop.push(victim().on('peers', (/** @type {any} */ p) => { if (p.kind === 'penalised') r.penalised = p; }));
        await lab.relay.link(victim().id, { ...victim().fault, forge: true });
        r.height = (await until('the relay to answer', () => lab.relay.status())).height;
        say(`The relay will forge the next block it sends node ${victim().id}: same transactions, another nonce, so the hash no longer meets the target. Every node checks proof of work itself.`);
      },
    },
    {
      title: '2. A block is mined; the forged copy reaches one node',
      run: async (say) => {
        await lab.relay.fund(await lab.relay.central(), 1);
        for (const n of r.others) await until(`node ${n.id} to take the real block`, async () => (await n.status()).height >= r.height + 1);
        await until(`node ${victim().id} to refuse the forged block`, () => r.rejected);
        say(`Node ${victim().id} refused the block: ${r.rejected.reason}. It stored nothing and its tip stays at height ${(await victim().status()).height}.`);
        if (r.others.length) say(`Node${r.others.length > 1 ? 's' : ''} ${r.others.map((n) => n.id).join(', ')} got the real block from the same relay and took it.`);
        await until(`node ${victim().id} to score the relay`, () => r.penalised);
        say(`It scored the peer that sent it: ${r.penalised.reason} (score ${r.penalised.score}). A peer that keeps lying is dropped.`);
      },
    },
    {
      title: '3. Undo: the node reconnects and fetches the real block',
      run: async (say) => {
        for (const stop of r.stop) stop();
        await victim().node.disconnect();
        await victim().node.connect();
        await until(`node ${victim().id} to reach height ${r.height + 1}`, async () => (await victim().status()).height >= r.height + 1);
        say(`The relay is honest again: node ${victim().id} asked for the blocks it lacked, checked the real one and took it. Every node is at height ${r.height + 1}.`);
      },
    },
  ];
}
