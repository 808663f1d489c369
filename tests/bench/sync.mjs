// Initial sync of a fresh tab, and start-up of a tab that already holds the chain:
//   cargo run --release -p relay-server --example make_chain -- --data-dir DIR --blocks 10000
//   node tests/bench/sync.mjs DIR [--wasm-signatures] [--www PAGE_DIR] [--only MODE] [--view ID] [--trace FILE] [--incognito]
// Starts the relay on DIR and, in headless Chromium, opens a new node in each mode and
// measures from page load until the tab has every block validated and stored; then reloads
// it and measures until it is ready (tip known, balances available) again:
//   assume-valid   the default: the page takes the relay's tip as its assume-valid block
//   full           ?assumevalid=0: every signature checked (WebCrypto in verify workers)
//   full-wasm      ?assumevalid=0&webcrypto=0: every signature checked in wasm (only with
//                  --wasm-signatures: it takes ~45 s here)
// One JSON line per mode, then one with the ratios between them (same run). --www serves
// another build of the page (e.g. a worktree's www/), to compare two builds alternately.
// Besides wall time, each line has the page's main-thread busy time during the sync
// (page_task_ms, page_script_ms, page_layout_ms: Chrome's Performance.getMetrics): CPU time of the page's
// own thread, which moves much less than wall time when other work shares the machine.
// And how the page answers during the sync: its longest main-thread task and how many went
// over 50 ms (long_task_max_ms, long_tasks: a `longtask` PerformanceObserver in the page,
// from the page's load; sync_long_task_max_ms, sync_long_tasks: from node_up_at_ms, when the
// page first answered window.node.status(), i.e. once it has loaded and started its node),
// and how long a click waited for its handler (click_max_ms, click_p50_ms over `clicks`
// clicks dispatched every CLICK_EVERY_MS through the browser's input pipeline).
// Each mode runs in a browser profile of its own on disk, as a user's is; --incognito runs it
// in a private context instead, whose IndexedDB and origin private file system live in
// memory (here, file access there was ~20× slower than on disk: a private window's cost).
// --view ID scrolls the page to the element with that id (e.g. explorer, inspector) once it
// loads, so that panel is on screen during the sync (by default the top of the page is).
// --trace FILE records a Chrome trace of the first chosen mode's sync and prints what its
// long tasks were made of (tests/bench/long-tasks.mjs).
// Memory, after the sync and again once ready after the reload (the issue-18 figures):
// wasm_mb (the node's wasm linear memory, from its status: chain, coins, caches),
// renderer_rss_mb (resident memory of the tab's renderer process, which runs the page, its
// node worker and their wasm: what the phone pays), page_heap_mb (the page's V8 heap in use,
// Chrome's JSHeapUsedSize) and idb_mb (navigator.storage.estimate(): the origin's stored
// bytes). Chrome's performance.measureUserAgentSpecificMemory() needs a cross-origin
// isolated page, which this one is not.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { BROWSER_ARGS, freePort, launchBrowser, waitFor, RELAY_BIN } from '../browser/harness.mjs';
import { busiestTask, report } from './long-tasks.mjs';

/** How often a click is dispatched on the page during a sync. */
const CLICK_EVERY_MS = 250;

/** Runs in the page before its own scripts: counts long tasks and times clicks. */
function watchResponsiveness() {
  const seen = { longMax: 0, longCount: 0, long: /** @type {number[][]} */ ([]), clicks: /** @type {number[]} */ ([]) };
  /** @type {any} */ (window).__responsiveness = seen;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      seen.longCount++;
      seen.longMax = Math.max(seen.longMax, e.duration);
      seen.long.push([Math.round(e.startTime), Math.round(e.duration)]);
    }
  }).observe({ type: 'longtask', buffered: true });
  // The event's timeStamp is when the browser took the input in; the handler runs when
  // the page's thread gets to it.
  addEventListener('click', (e) => { seen.clicks.push(performance.now() - e.timeStamp); }, true);
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node tests/bench/sync.mjs DATA_DIR [--wasm-signatures] [--www PAGE_DIR] [--only MODE] [--view ID] [--trace FILE] [--incognito]');
  process.exit(2);
}
const modes = [['assume-valid', ''], ['full', '&assumevalid=0']];
if (process.argv.includes('--wasm-signatures')) modes.push(['full-wasm', '&assumevalid=0&webcrypto=0']);
const onlyAt = process.argv.indexOf('--only');
const traceAt = process.argv.indexOf('--trace');
const traceFile = traceAt > 0 ? process.argv[traceAt + 1] : '';
const viewAt = process.argv.indexOf('--view');
const view = viewAt > 0 ? process.argv[viewAt + 1] : '';
const chosen = onlyAt > 0 ? modes.filter(([mode]) => mode === process.argv[onlyAt + 1]) : modes;

const port = await freePort();
const wwwAt = process.argv.indexOf('--www');
const www = wwwAt > 0 ? ['--www', process.argv[wwwAt + 1]] : [];
const relay = spawn(RELAY_BIN, ['--data-dir', dir, 'startnode', '--listen', `127.0.0.1:${port}`, ...www], {
  env: { ...process.env, RUST_LOG: 'warn' }, stdio: 'inherit',
});
const url = `http://127.0.0.1:${port}`;
const target = await waitFor('relay', async () => (await (await fetch(`${url}/status`)).json()).height, 60_000);

const incognito = process.argv.includes('--incognito');
/** @type {import('playwright-core').Browser | null} */
const browser = incognito ? await launchBrowser() : null;
/** A context for one mode: a private one, or a browser on a fresh profile on disk. */
async function openContext() {
  if (browser) return { context: await browser.newContext(), profile: '' };
  const profile = mkdtempSync(join(tmpdir(), 'bench-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: BROWSER_ARGS,
  });
  return { context, profile };
}
/** Resident megabytes of Chromium's renderer processes (one tab open at a time here). */
async function rendererRssMb() {
  let kb = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch { /* gone since listed */ }
  }
  return +(kb / 1024).toFixed(1);
}
/** The memory figures of a tab (see the header). @param {import('playwright-core').Page} page
 *  @param {import('playwright-core').CDPSession} cdp */
async function memoryOf(page, cdp) {
  await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
  const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const { wasm, idb } = await page.evaluate(async () => ({
    wasm: (await /** @type {any} */ (window).node.status()).memoryBytes,
    idb: (await navigator.storage.estimate()).usage ?? 0,
  }));
  const mb = (/** @type {number} */ b) => +(b / (1 << 20)).toFixed(1);
  return { wasm_mb: mb(wasm), renderer_rss_mb: await rendererRssMb(), page_heap_mb: mb(metrics.JSHeapUsedSize), idb_mb: mb(idb) };
}
const results = {};
try {
  for (const [mode, query] of chosen) {
    const { context, profile } = await openContext();
    const page = await context.newPage();
    await page.addInitScript(watchResponsiveness);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const tracing = traceFile && mode === chosen[0][0] ? startTrace(cdp) : null;
    const busy = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics
      .filter((m) => m.name.endsWith('Duration')).map((m) => [m.name, m.value]));
    const id = `bench-${mode}-${Date.now()}`;
    const status = () => page.evaluate(() => window.node && window.node.status());
    /** When (the page's clock) the bench first found the node answering: the page has
     *  loaded and started its node; the download is under way from here. */
    let nodeUpAt = Infinity;
    const statusMarked = async () => {
      const s = await status();
      if (s && nodeUpAt === Infinity) nodeUpAt = await page.evaluate(() => performance.now());
      return s;
    };
    const t0 = Date.now();
    await page.goto(`${url}/?node=${id}${query}`);
    if (view) {
      await page.waitForFunction(() => /** @type {any} */ (window).node !== undefined, null, { timeout: 60_000 });
      await page.evaluate((id) => document.getElementById(id)?.scrollIntoView(), view);
    }
    let synced = false;
    const clicking = clickDuringSync(page, () => synced);
    await waitFor(`${mode} sync`, async () => (await statusMarked())?.height === target, 1_800_000, 20);
    const syncMs = Date.now() - t0;
    synced = true;
    await clicking;
    const cpu = await busy();
    const seen = await page.evaluate(() => /** @type {any} */ (window).__responsiveness);
    /** With --trace: the main-thread task with the most thread time, [thread ms, wall ms]. */
    let busiest = null;
    if (tracing) {
      const events = await tracing();
      writeFileSync(traceFile, JSON.stringify({ traceEvents: events }));
      report(events);
      busiest = busiestTask(events).map(Math.round);
    }
    const clicks = [...seen.clicks].sort((a, b) => a - b);
    const synced_memory = await memoryOf(page, cdp);
    const t1 = Date.now();
    await page.reload();
    await waitFor(`${mode} ready after reload`, async () => (await status())?.height === target, 600_000, 20);
    const readyMs = Date.now() - t1;
    const reloaded_memory = await memoryOf(page, cdp);
    await context.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    results[mode] = { mode, blocks: target, initial_sync_ms: syncMs, ms_per_block: syncMs / target,
      page_task_ms: Math.round(cpu.TaskDuration * 1000), page_script_ms: Math.round(cpu.ScriptDuration * 1000),
      page_layout_ms: Math.round((cpu.LayoutDuration + cpu.RecalcStyleDuration) * 1000), ready_after_reload_ms: readyMs,
      long_task_max_ms: Math.round(seen.longMax), long_tasks: seen.longCount,
      node_up_at_ms: Math.round(nodeUpAt),
      sync_long_task_max_ms: Math.max(0, ...seen.long.filter(([at]) => at >= nodeUpAt).map(([, ms]) => ms)),
      sync_long_tasks: seen.long.filter(([at]) => at >= nodeUpAt).length,
      longest_tasks_at_ms: [...seen.long].sort((a, b) => b[1] - a[1]).slice(0, 5),
      ...(busiest ? { busiest_task_thread_ms: busiest[0], busiest_task_wall_ms: busiest[1] } : {}),
      clicks: clicks.length, click_p50_ms: Math.round(clicks[clicks.length >> 1] ?? NaN), click_max_ms: Math.round(clicks[clicks.length - 1] ?? NaN),
      synced_memory, reloaded_memory };
    console.log(JSON.stringify(results[mode]));
  }
} finally {
  await browser?.close();
  relay.kill('SIGTERM');
}
/** Clicks an empty spot of the page's header every CLICK_EVERY_MS until `done()`.
 *  @param {import('playwright-core').Page} page @param {() => boolean} done */
async function clickDuringSync(page, done) {
  while (!done()) {
    await page.mouse.click(4, 4).catch(() => {});
    await new Promise((r) => setTimeout(r, CLICK_EVERY_MS));
  }
}

/** Starts a trace of the page's timeline; the returned function ends it and resolves to its
 *  events. @param {import('playwright-core').CDPSession} cdp */
function startTrace(cdp) {
  /** @type {any[]} */
  const events = [];
  cdp.on('Tracing.dataCollected', ({ value }) => { events.push(...value); });
  const started = cdp.send('Tracing.start', {
    traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', '__metadata'] },
    transferMode: 'ReportEvents',
  });
  return async () => {
    await started;
    const complete = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
    await cdp.send('Tracing.end');
    await complete;
    return events;
  };
}

const ratio = (a, b) => results[a] && results[b] && +(results[a].initial_sync_ms / results[b].initial_sync_ms).toFixed(2);
console.log(JSON.stringify({
  full_over_assume_valid: ratio('full', 'assume-valid'),
  full_wasm_over_full: ratio('full-wasm', 'full'),
  // The Go original: ~1.4 ms a block over loopback, validating nothing (from the issue).
  assume_valid_ms_per_block_over_go: results['assume-valid'] && +(results['assume-valid'].ms_per_block / 1.4).toFixed(2),
}));
