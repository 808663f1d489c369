// @ts-check
// A relay on the internet, in small: nginx terminates TLS (a self-signed certificate) on
// loopback in front of the relay, as deploy/nginx.conf does. A tab loads the page over
// https:// and its node connects over wss:// by itself, through the proxy. A misbehaving peer
// reaching the proxy from 127.0.0.5 is banned by its own address, while a peer from 127.0.0.6
// through the same proxy, and the tab, are still served.
//
// The relay never bans loopback (every tab of a local browser shares it), and on one machine
// every client is loopback. So this proxy plays the internet's part: it names the client
// 127.0.0.5 as 192.0.2.5 and 127.0.0.6 as 192.0.2.6 (documentation addresses) in
// X-Forwarded-For — nginx still derives the header from each connection's real source
// address, which is what a production proxy does with `$remote_addr`.
//
// Skipped, saying why, where nginx or openssl is not installed (scripts/setup.sh installs
// both).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Relay, freePort, launchBrowser, openTab, waitFor } from './harness.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const OPENSSL = ['/usr/bin/openssl', '/bin/openssl'].find((p) => existsSync(p));
const skip = !NGINX ? 'nginx is not installed (scripts/setup.sh installs nginx-light)'
  : !OPENSSL ? 'openssl is not installed' : false;

const relay = new Relay('3000');
/** @type {import('node:child_process').ChildProcess | undefined} */
let nginx;
let nginxLog = '';
/** @type {import('playwright-core').Browser | undefined} */
let browser;
/** @type {any[]} */
const tabs = [];

after(async () => {
  for (const t of tabs) await t.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (nginx && nginx.exitCode === null) {
    const done = new Promise((r) => nginx?.once('exit', r));
    nginx.kill('SIGQUIT');
    await done;
  }
  await relay.stop();
});

/** nginx's configuration: TLS on `port`, the relay on `relayPort`, files under `dir`. */
function nginxConf(dir, port, relayPort) {
  const user = process.getuid && process.getuid() === 0 ? 'user root;' : '';
  return `${user}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/html html; }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  # The internet's part (see the top of this file).
  map $remote_addr $client { 127.0.0.5 192.0.2.5; 127.0.0.6 192.0.2.6; default $remote_addr; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / {
      proxy_pass http://127.0.0.1:${relayPort};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $client;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
      proxy_buffering off;
    }
  }
}
`;
}

/**
 * Opens /ws through the proxy from source address `from`; resolves with the HTTP status and
 * the TLS socket (left open when the upgrade succeeded).
 * @param {number} port @param {string} from
 * @returns {Promise<{ code: number, socket: tls.TLSSocket }>}
 */
function upgradeFrom(port, from) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, localAddress: from, rejectUnauthorized: false }, () => {
      socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    let head = '';
    const onData = (/** @type {Buffer} */ d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve({ code: Number(head.split(' ')[1]), socket });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** One binary WebSocket frame as a client sends it (masked with a zero key). */
function clientFrame(/** @type {Buffer} */ payload) {
  assert.ok(payload.length < 126);
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

test('a tab over https/wss through nginx; a bad peer behind it is banned by its own address', { skip, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'proxy-tls-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  execFileSync(/** @type {string} */ (OPENSSL), ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });

  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '-address', central, '-bits', '8');
  const relayPort = await freePort();
  const port = await freePort();
  const origin = `https://127.0.0.1:${port}`;
  await relay.start(relayPort, '--trusted-proxy', '127.0.0.1', '--public-url', `wss://127.0.0.1:${port}/ws`);
  await relay.cli('send', '-from', central, '-to', central, '-amount', '1', '-mine');

  writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port, relayPort));
  nginx = spawn(/** @type {string} */ (NGINX), ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  nginx.stderr?.on('data', (d) => { nginxLog += d.toString(); });
  await waitFor(`nginx on ${origin} (${nginxLog})`, async () => {
    if (nginx?.exitCode !== null) throw new Error(`nginx exited: ${nginxLog}`);
    const { code, socket } = await upgradeFrom(port, '127.0.0.1');
    socket.destroy();
    return code === 101;
  }, 20_000);

  // The page over https; its node opens wss:// on its own origin, through the proxy.
  browser = await launchBrowser(['--ignore-certificate-errors']);
  /** @type {string[]} */
  const sockets = [];
  const tab = await openTab(browser, origin, '3001', {
    prepare: async (page) => { page.on('websocket', (ws) => sockets.push(ws.url())); },
  });
  tabs.push(tab);
  const call = (/** @type {string} */ fn, /** @type {any[]} */ ...args) =>
    tab.page.evaluate(([fn, args]) => window.node[fn](...args), [fn, args]);
  await waitFor('the tab synced through the proxy', async () => (await call('status')).height === 1);
  assert.deepEqual([...new Set(sockets)], [`wss://127.0.0.1:${port}/ws`]);
  assert.equal(await call('getBalance', central), 20);

  // A peer from 127.0.0.5 sends another network's junk and is refused afterwards.
  const bad = await upgradeFrom(port, '127.0.0.5');
  assert.equal(bad.code, 101);
  bad.socket.write(clientFrame(Buffer.from('JUNKversion\0\0\0\0\0 and more', 'latin1')));
  await waitFor('127.0.0.5 refused', async () => {
    const again = await upgradeFrom(port, '127.0.0.5');
    again.socket.destroy();
    return again.code === 403;
  });
  bad.socket.destroy();
  assert.match(relay.log, /address refused.*ip=192\.0\.2\.5/, "the ban names the client, not the proxy");

  // Not the proxy: a peer from 127.0.0.6 through it still connects, and the tab stays.
  const good = await upgradeFrom(port, '127.0.0.6');
  assert.equal(good.code, 101);
  good.socket.destroy();
  assert.ok((await call('status')).peers >= 1, 'the tab is still connected');
  const status = await fetch(`http://127.0.0.1:${relayPort}/status`).then((r) => r.json());
  assert.equal(status.height, 1);
  assert.deepEqual(tab.errors, [], 'page errors');
});
