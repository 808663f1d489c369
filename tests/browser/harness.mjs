// Shared pieces of the browser tests: a real relay process, real Chromium tabs.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RELAY_BIN = process.env.RELAY_BIN || join(REPO, 'target', 'debug', 'relay-server');
export const ARTIFACTS = join(REPO, 'tests', 'artifacts');
/** The page directory the relay serves (`--www`); unset, the relay's built-in default. */
export const RELAY_WWW = process.env.RELAY_WWW || '';
/** The relay's working directory; unset, the test's own. */
export const RELAY_CWD = process.env.RELAY_CWD || undefined;

/** A free TCP port on loopback. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value or `ms` pass; returns that value. */
export async function waitFor(what, check, ms = 60_000, every = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The relay's command line, on one data directory. */
export class Relay {
  constructor(nodeId = '3000') {
    this.dataDir = mkdtempSync(join(tmpdir(), 'relay-'));
    this.nodeId = nodeId;
    this.proc = null;
    this.log = '';
  }

  async cli(...args) {
    const { stdout } = await run(RELAY_BIN, ['--node-id', this.nodeId, '--data-dir', this.dataDir, ...args], {
      env: { ...process.env, RUST_LOG: 'warn' },
      cwd: RELAY_CWD,
      timeout: 120_000,
    });
    return stdout.trim();
  }

  /** Starts `startnode` on `port`, with `extra` arguments (e.g. '--peer', url). */
  async start(port, ...extra) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}/ws`;
    this.proc = spawn(RELAY_BIN, ['--node-id', this.nodeId, '--data-dir', this.dataDir, 'startnode', '--listen', `127.0.0.1:${port}`,
      ...(RELAY_WWW ? ['--www', RELAY_WWW] : []), ...extra], {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
      cwd: RELAY_CWD,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d) => { this.log = (this.log + d.toString()).slice(-200_000); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    const exited = new Promise((_, reject) => this.proc.once('exit', (c) => reject(new Error(`relay exited with ${c}:\n${this.log}`))));
    await Promise.race([waitFor('relay /status', () => this.status(), 30_000), exited]);
  }

  async status() {
    const r = await fetch(`${this.url}/status`);
    return r.ok ? r.json() : null;
  }

  async stop() {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    let timer;
    await Promise.race([done, new Promise((r) => { timer = setTimeout(r, 10_000); })]);
    clearTimeout(timer);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

/** Chromium's flags for every test and bench browser. */
export const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

/** Headless Chromium; `extraArgs` are added to its command line. */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...BROWSER_ARGS, ...extraArgs],
  });
}

/** Opens node `id` in its own browser context; records every frame the tab sends.
 *  `prepare(page)` runs before the page loads (to route its requests, say); `query` is
 *  added to the page's URL; `context` opens it as another tab of that context (the same
 *  browser profile: the same IndexedDB and Web Locks) instead of a new one. */
export async function openTab(browser, baseUrl, id, { prepare, query = '', context: shared } = {}) {
  const context = shared ?? await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const tab = { id, context, page, sent: [], received: [], allReceived: [], errors: [] };
  page.on('pageerror', (e) => tab.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') tab.errors.push(m.text()); });
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => tab.sent.push(Buffer.from(f.payload)));
    ws.on('framereceived', (f) => {
      const b = Buffer.from(f.payload);
      tab.received.push(b);
      tab.allReceived.push(b);
    });
  });
  if (prepare) await prepare(page);
  await page.goto(`${baseUrl}/?node=${id}${query}`);
  await page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  return tab;
}

export async function screenshot(tab, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await tab.page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Plays the lab run behind `button` and waits until it ends; resolves to its final state
 *  ('passed' or 'failed') and the narration's text, a line per item. */
export async function playLabRun(page, button, what) {
  await page.click(button);
  const state = await waitFor(`${what} to end`, async () => {
    const s = await page.getAttribute('#narration', 'data-state');
    return (s === 'passed' || s === 'failed') && (await page.textContent('#run-state')) === s && s;
  }, 300_000, 300);
  const narration = await page.$$eval('#narration li', (lis) => lis.map((li) => li.textContent).join('\n'));
  return { state, narration };
}

/** A screenshot of a page (the lab's, say) that is not a node tab. */
export async function labScreenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The lab's usual start: a relay with a fresh chain (CENTRAL its first address, proof of
 *  work at `bits`), started on a free port, and the lab page at `/lab/?nodes=N&…query` in a
 *  new browser, waited on until every node has its one peer. Page errors are collected in
 *  `errors`. Close `browser` and stop `relay` when done (`closeLab`).
 *  @param {Relay} relay @param {{nodes?: number, query?: string, bits?: number}} [opts] */
export async function openLab(relay, { nodes = 2, query = '', bits = 12 } = {}) {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', String(bits));
  await relay.start(await freePort());
  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${relay.url}/lab/?nodes=${nodes}${query ? `&${query}` : ''}`);
  await page.waitForSelector('body[data-ready="true"]');
  await waitFor(`${nodes} lab nodes connected`, () => page.evaluate(async (n) => {
    const lab = /** @type {any} */ (window).lab;
    if (lab.nodes.length < n) return false;
    const all = await Promise.all(lab.nodes.map((x) => x.node.status().catch(() => null)));
    return all.every((s) => s && s.peers === 1);
  }, nodes), 120_000);
  return { central, browser, context, page, errors };
}

/** Ends what `openLab` started (each step even if an earlier one failed).
 *  @param {Relay} relay @param {{browser?: any, context?: any} | undefined} lab */
export async function closeLab(relay, lab) {
  if (lab?.context) await lab.context.close().catch(() => {});
  if (lab?.browser) await lab.browser.close().catch(() => {});
  await relay.stop();
}

/** The trimmed text of the first element matching `selector`, or '' when there is none yet
 *  (for `waitFor` checks that poll what the page shows). */
export async function text(page, selector) {
  return ((await page.locator(selector).first().textContent({ timeout: 2000 }).catch(() => '')) || '').trim();
}

/** The steps of the page's payment view, in the order shown. */
export function paymentSteps(page) {
  return page.$$eval('[data-testid=payment] [data-testid=payment-step]', (li) => li.map((l) => l.textContent.trim()));
}
