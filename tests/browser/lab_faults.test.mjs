// Faults made on purpose in the lab: node 4002 is cut off from the relay while node 4003
// stays with it. Two miners race: both sides mine their own block, the map shows the cut,
// and healing puts every node on the relay's heavier branch. Then the same coins are spent
// on both sides of a cut: after healing, the losing payment is gone from every wallet and
// the relay's own command line agrees.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, waitFor, labScreenshot } from './harness.mjs';

const relay = new Relay('3000');
let browser;
let context;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** Plays the run behind `button`; resolves once it passed, failing with its narration if not.
 *  `during(page)` runs while it plays. */
async function play(page, button, during) {
  await page.click(button);
  const seen = during ? during(page) : Promise.resolve();
  const state = await waitFor(`${button} to finish`, async () => {
    const s = await page.getAttribute('#narration', 'data-state');
    return (s === 'failed' || (s === 'passed' && (await page.textContent('#run-state')) === 'passed')) && s;
  }, 400_000, 500);
  if (state === 'failed') {
    await labScreenshot(page, 'lab-fault-failed');
    const failed = await page.$$eval('#narration > li.failed', (lis) => lis.map((li) => li.textContent));
    assert.fail(`${button} failed: ${failed.join(' | ')}`);
  }
  await seen;
}

/** The badge of node `id` on the map. */
const badge = (page, id) => page.evaluate((i) => {
  const b = document.querySelector(`[data-testid="map-node"][data-node="${i}"]`);
  return b && { state: b.getAttribute('data-state'), height: Number(b.getAttribute('data-height')) };
}, id);

/** Whether a block is on node `index`'s active chain, asked of that node's own facade. */
const activeIn = (page, index, hash) => page.evaluate(async ([i, h]) => {
  const b = await window.lab.nodes[i].node.getBlock(h);
  return b ? b.active : null;
}, [index, hash]);

test('a partition: two miners race and heal onto the heavier branch; a double spend loses everywhere', { timeout: 900_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '12');
  await relay.start(await freePort());
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${relay.url}/lab/?nodes=3&pace=100`);
  await waitFor('three nodes connected', async () =>
    (await Promise.all(['4001', '4002', '4003'].map((id) => badge(page, id)))).every((b) => b?.state === 'up'));

  // The race. While it plays, the map shows node 4002 cut off, and its own fork block.
  let cutSeen = null;
  await play(page, '#play-race', async (p) => {
    cutSeen = await waitFor('node 4002 cut off on the map', async () => {
      const b = await badge(p, '4002');
      return b?.state === 'cut' && (await p.getAttribute('.node-card[data-node="4002"]', 'class')).includes('cut') && b;
    }, 300_000, 100);
    await waitFor('both sides mined', async () => (await p.$$eval('#narration > li', (lis) => lis.length)) >= 4, 300_000);
    await labScreenshot(p, 'lab-race-fork');
  });
  assert.equal(cutSeen.state, 'cut');
  const narration = await page.$$eval('#narration li', (lis) => lis.map((li) => li.textContent).join('\n'));
  const [, forkA, forkB] = narration.match(/node 4002 has block \d+ = ([0-9a-f]{10})…, node 4003 and the relay have block \d+ = ([0-9a-f]{10})…/) ?? [];
  assert.ok(forkA && forkB && forkA !== forkB, `a fork was narrated: ${narration}`);
  // Every node is on the relay's tip again, and 4002's own fork block is off its active chain.
  const tip = (await relay.status()).tip;
  const tips = await page.evaluate(async () => Promise.all(window.lab.nodes.map(async (n) => (await n.node.status()).tip)));
  assert.deepEqual(tips, tips.map(() => tip), 'every node converged on the relay\'s tip');
  const forkBlocks = await page.evaluate(async () => (await window.lab.nodes[1].node.blockTree(50)));
  const loser = forkBlocks.find((b) => b.hash.startsWith(forkA));
  const winner = forkBlocks.find((b) => b.hash.startsWith(forkB));
  assert.ok(loser && winner, 'node 4002 knows both fork blocks');
  assert.equal(await activeIn(page, 1, loser.hash), false, 'its own block lost');
  for (const i of [0, 1, 2]) assert.equal(await activeIn(page, i, winner.hash), true, `node ${i}: the heavier branch`);
  assert.equal((await badge(page, '4002')).state, 'up', 'healed on the map');
  await labScreenshot(page, 'lab-race-healed');

  // The double spend: the same coins paid to A's payee (cut off) and B's payee (with the relay).
  await play(page, '#play-double-spend');
  assert.equal(await page.getAttribute('#balances', 'data-verdict'), 'pass');
  const rows = await page.$$eval('#balances tr[data-label]', (trs) => trs.map((tr) => ({
    label: tr.getAttribute('data-label'), address: tr.querySelector('th')?.getAttribute('title'),
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
  const loserPayee = rows.find((r) => r.label === "A's payee");
  const winnerPayee = rows.find((r) => r.label === "B's payee");
  assert.deepEqual(loserPayee.cells, ['0', '0 ✓', '0 ✓', '0 ✓', '0 ✓']);
  // The cut-off miner's block reward went with its block.
  assert.deepEqual(rows.find((r) => r.label === "A's miner").cells, ['0', '0 ✓', '0 ✓', '0 ✓', '0 ✓']);
  assert.deepEqual(winnerPayee.cells, ['11', '11 ✓', '11 ✓', '11 ✓', '11 ✓']);
  // Asked independently: every node's facade, and the relay's command line.
  for (const i of [0, 1, 2]) {
    assert.equal(await page.evaluate(([n, a]) => window.lab.nodes[n].node.getBalance(a), [i, loserPayee.address]), 0);
    const pool = await page.evaluate((n) => window.lab.nodes[n].node.mempool(), i);
    assert.ok(!pool.some((t) => t.outputs.some((o) => o.address === loserPayee.address)), `node ${i}: the losing payment left the mempool`);
  }
  assert.match(await relay.cli('getbalance', '--address', loserPayee.address), /: 0$/);
  assert.match(await relay.cli('getbalance', '--address', winnerPayee.address), /: 11$/);
  await labScreenshot(page, 'lab-double-spend');
  assert.deepEqual(errors, []);
});
