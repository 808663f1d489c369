// @ts-check
// One file to deploy: the relay binary copied alone into an empty directory, run from there
// with no --www, serves the page it carries, and tabs loaded from it play the seed's
// scenario (DESIGN.md's steps 1-9) to the seed's balances.
//
// The binary is target/debug/relay-server unless DEPLOY_BIN names another (say
// target/release/relay-server): both embed the same bytes of www/ with the same build script,
// so what this checks — a binary that needs nothing beside it — holds for either.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const built = process.env.DEPLOY_BIN || join(REPO, 'target', 'debug', 'relay-server');
const server = mkdtempSync(join(tmpdir(), 'deployed-'));
const bin = join(server, 'relay-server');
copyFileSync(built, bin);
chmodSync(bin, 0o755);
const cwd = join(server, 'srv');
mkdirSync(cwd);
// The harness reads these when it loads: the copied binary, run from the empty directory.
process.env.RELAY_BIN = bin;
process.env.RELAY_CWD = cwd;
delete process.env.RELAY_WWW;
const { Relay, freePort, launchBrowser, openTab, waitFor } = await import('./harness.mjs');

const relay = new Relay('3000');
/** @type {import('playwright-core').Browser | undefined} */
let browser;
/** @type {any[]} */
const tabs = [];

after(async () => {
  for (const t of tabs) await t.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** @param {any} tab @param {string} fn @param {...any} args */
const call = (tab, fn, ...args) => tab.page.evaluate(([fn, args]) => window.node[fn](...args), [fn, args]);
/** @param {any} tab */
const height = async (tab) => (await call(tab, 'status')).height;

test('the binary alone in an empty directory serves the page and the seed scenario runs', { timeout: 600_000 }, async () => {
  assert.deepEqual(readdirSync(server).sort(), ['relay-server', 'srv'], 'nothing but the binary');
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '-address', central, '-bits', '12');
  const port = await freePort();
  await relay.start(port);
  await waitFor('the banner naming where the page comes from', () => /page from this binary/.test(relay.log), 10_000);

  // The page is the repository's, byte for byte, served from inside the binary.
  const index = await fetch(`${relay.url}/`);
  assert.equal(index.status, 200);
  assert.equal(await index.text(), readFileSync(join(REPO, 'www', 'index.html'), 'utf8'));

  browser = await launchBrowser();
  const wallet = await openTab(browser, relay.url, '3001');
  tabs.push(wallet);
  const addrs = [];
  for (let i = 0; i < 4; i++) addrs.push(await call(wallet, 'createWallet'));
  const [w1, w2, w3, w4] = addrs;

  await relay.cli('send', '-from', central, '-to', w1, '-amount', '10', '-mine');
  await relay.cli('send', '-from', central, '-to', w2, '-amount', '10', '-mine');
  await waitFor('wallet tab synced to height 2', async () => (await height(wallet)) === 2);

  const miner = await openTab(browser, relay.url, '3002');
  tabs.push(miner);
  const minerAddr = await call(miner, 'createWallet');
  await waitFor('miner tab synced', async () => (await height(miner)) === 2);
  await miner.page.selectOption('#mining-address', minerAddr).catch(() => {});
  await miner.page.click('#start-mining');
  await waitFor('mining on', async () => (await call(miner, 'status')).mining);

  await call(wallet, 'send', w1, w3, 1);
  await call(wallet, 'send', w2, w4, 1);
  await waitFor('block 3 everywhere', async () =>
    (await height(wallet)) === 3 && (await height(miner)) === 3 && (await relay.status()).height === 3, 120_000);

  const expected = [[w1, 9], [w2, 9], [w3, 1], [w4, 1], [minerAddr, 10], [central, 10]];
  for (const tab of [wallet, miner]) {
    for (const [addr, amount] of expected) {
      assert.equal(await call(tab, 'getBalance', addr), amount, `node ${tab.id}: balance of ${addr}`);
    }
  }
  for (const [addr, amount] of expected) {
    assert.match(await relay.cli('getbalance', '-address', addr), new RegExp(`: ${amount}$`));
  }
  for (const t of tabs) assert.deepEqual(t.errors, [], `node ${t.id} page errors`);
  assert.deepEqual(readdirSync(cwd), [], 'the relay wrote nothing into its working directory');
});
