// @ts-check
// The container image (deploy/Containerfile) builds from the repository, runs as a user
// that is not root with its files on a volume, and its relay answers /status, /readyz and
// the page; `docker stop` (SIGTERM) ends it with exit code 0.
//
// Skipped, saying why, where no container engine answers (`docker info`, then
// `podman info`): building needs a running engine and the base images from docker.io.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { REPO, freePort, waitFor } from './harness.mjs';

const run = promisify(execFile);

/** The first engine whose `info` answers, or null. */
async function findEngine() {
  for (const engine of ['docker', 'podman']) {
    try {
      await run(engine, ['info'], { timeout: 20_000 });
      return engine;
    } catch {
      // Not installed, or a client without an engine behind it.
    }
  }
  return null;
}

const engine = await findEngine();
const skip = engine ? false : 'no container engine answers (`docker info` and `podman info` failed): the image is not built here';
const tag = `relay-server-test:${process.pid}`;
const volume = `relay-test-data-${process.pid}`;
const name = `relay-test-${process.pid}`;

after(async () => {
  if (!engine) return;
  for (const args of [['rm', '-f', name], ['volume', 'rm', '-f', volume], ['rmi', '-f', tag]]) {
    await run(engine, args).catch(() => {});
  }
});

/** Runs the engine; returns stdout. @param {string[]} args */
async function eng(...args) {
  const { stdout } = await run(/** @type {string} */ (engine), args, { timeout: 3_600_000, maxBuffer: 64 << 20 });
  return stdout.trim();
}

test('the image builds, runs as non-root on a volume and answers /status and /readyz', { skip, timeout: 3_600_000 }, async () => {
  await eng('build', '-f', join(REPO, 'deploy', 'Containerfile'), '-t', tag, REPO);
  await eng('volume', 'create', volume);
  const once = (/** @type {string[]} */ ...args) => eng('run', '--rm', '-v', `${volume}:/data`, tag, ...args);
  const address = (await once('createwallet')).split(/\s+/).pop() ?? '';
  await once('createblockchain', '-address', address, '-bits', '12');

  const port = await freePort();
  await eng('run', '-d', '--name', name, '-p', `127.0.0.1:${port}:3000`, '-v', `${volume}:/data`, tag);
  const base = `http://127.0.0.1:${port}`;
  const status = await waitFor('the container relay /status', async () => {
    const r = await fetch(`${base}/status`);
    return r.ok ? r.json() : null;
  }, 60_000);
  assert.equal(status.height, 0);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200, 'the image carries the page');
  assert.match(await page.text(), /<html|<!doctype html/i);

  assert.notEqual(await eng('exec', name, 'id', '-u'), '0', 'not root');
  assert.match(await eng('exec', name, 'relay-server', '--data-dir', '/data', 'getbalance', '-address', address),
    /: 10$/, 'CLI commands reach the running node');

  await eng('stop', '-t', '60', name);
  assert.equal(await eng('inspect', '-f', '{{.State.ExitCode}}', name), '0', 'SIGTERM stops it cleanly');
});
