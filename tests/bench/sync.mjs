// Initial sync of a fresh tab, and start-up of a tab that already holds the chain:
//   cargo run --release -p relay-server --example make_chain -- --data-dir DIR --blocks 10000
//   node tests/bench/sync.mjs DIR
// Starts the relay on DIR, opens a new node in headless Chromium, and measures the time from
// page load until the tab has every block validated and stored; then reloads it and measures
// the time until it is ready (tip known, balances available) again. One JSON line.
import { spawn } from 'node:child_process';
import { freePort, launchBrowser, waitFor, RELAY_BIN } from '../browser/harness.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node tests/bench/sync.mjs DATA_DIR');
  process.exit(2);
}
const port = await freePort();
const relay = spawn(RELAY_BIN, ['--data-dir', dir, 'startnode', '--listen', `127.0.0.1:${port}`], {
  env: { ...process.env, RUST_LOG: 'warn' }, stdio: 'inherit',
});
const url = `http://127.0.0.1:${port}`;
const target = await waitFor('relay', async () => (await (await fetch(`${url}/status`)).json()).height, 60_000);

const browser = await launchBrowser();
const page = await browser.newPage();
const id = `bench${Date.now()}`;
const status = () => page.evaluate(() => window.node && window.node.status());
const t0 = Date.now();
await page.goto(`${url}/?node=${id}`);
await waitFor('sync', async () => (await status())?.height === target, 600_000, 50);
const syncMs = Date.now() - t0;

const t1 = Date.now();
await page.reload();
await waitFor('ready after reload', async () => (await status())?.height === target, 60_000, 20);
const readyMs = Date.now() - t1;

await browser.close();
relay.kill('SIGTERM');
console.log(JSON.stringify({
  blocks: target,
  initial_sync_ms: syncMs,
  ms_per_block: syncMs / target,
  ready_after_reload_ms: readyMs,
}));
