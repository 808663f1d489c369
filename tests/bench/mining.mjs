// Browser mining benchmark, side by side with the native search in one run:
//   node tests/bench/mining.mjs [SECONDS]
// Serves www/ (with the built wasm in www/pkg, see scripts/build-wasm.sh), opens
// www/bench.html in headless Chromium, and runs node-core's `hashrate` example natively.
// Prints one JSON line with both and the ratios.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { extname, join, normalize } from 'node:path';
import { launchBrowser, REPO } from '../browser/harness.mjs';

const seconds = Number(process.argv[2] || 3);
const www = join(REPO, 'www');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

const server = createServer(async (req, res) => {
  const path = normalize(join(www, new URL(req.url, 'http://x').pathname));
  if (!path.startsWith(www)) { res.writeHead(403).end(); return; }
  try {
    const body = await readFile(path);
    res.writeHead(200, { 'content-type': types[extname(path)] || 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();

const browser = await launchBrowser();
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${port}/bench.html?auto&seconds=${seconds}`);
const browserResult = await page.waitForFunction(() => window.benchResult, null, { timeout: (seconds * 2 + 30) * 1000 })
  .then((h) => h.jsonValue());
await browser.close();
server.close();

const native = JSON.parse(execFileSync('cargo', ['run', '--release', '-q', '-p', 'node-core', '--example', 'hashrate', '--', String(seconds)], { cwd: REPO }).toString());
const result = {
  browser: browserResult,
  native_one_core_midstate_hps: native.midstate_hps,
  ratio_one_worker_to_native: browserResult.oneWorker / native.midstate_hps,
  ratio_all_workers_to_cores_times_one: browserResult.scaling,
};
console.log(JSON.stringify(result));
