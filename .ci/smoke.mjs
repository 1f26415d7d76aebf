// CI smoke: `stockade start` under the Node binary given as the argument, with its
// embedded redis-server and PostgreSQL in a temporary data dir, on a free port.
// Waits for /readyz, makes one reservation, confirms it, waits for the order to be
// written through to PostgreSQL, then stops the server by its pid (SIGTERM: it must
// exit 0 and stop the services it started). Cleans up on failure too. Exit 0 = passed.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nodeBin = process.argv[2] ?? process.execPath;
const root = fileURLToPath(new URL('..', import.meta.url));
const readyWithinMs = 180_000; // a first initdb and migrations on a loaded 2-core machine
const writtenWithinMs = 60_000;
const stoppedWithinMs = 60_000;

// Stockade makes its data dir itself: as root it is 0711, so the services' OS users pass through it (and through this parent).
const scratch = mkdtempSync(join(tmpdir(), 'stockade-smoke-'));
chmodSync(scratch, 0o711);
const dataDir = join(scratch, 'data');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const tokens = { admin: `smoke-admin-${randomBytes(8).toString('hex')}`, client: `smoke-client-${randomBytes(8).toString('hex')}` };
const env = { ...process.env, PORT: String(port), STOCKADE_HOST: '127.0.0.1', STOCKADE_DATA_DIR: dataDir,
  STOCKADE_ADMIN_TOKEN: tokens.admin, STOCKADE_CLIENT_TOKEN: tokens.client, STOCKADE_API_PROCESSES: '1' };
for (const name of ['REDIS_URL', 'DATABASE_URL', 'NODE_ENV']) delete env[name];

let output = '';
const server = spawn(nodeBin, ['bin/stockade.mjs', 'start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
for (const stream of [server.stdout, server.stderr]) stream.on('data', (chunk) => { output = (output + chunk).slice(-20_000); });
let exited = null;
const exit = new Promise((resolve) => server.once('exit', (code, signal) => resolve(exited = { code, signal })));

try {
  const node = await smoke();
  console.log(`smoke: passed on Node ${node} (stockade start: ready, 1 reservation, 1 confirm, order written through, stopped)`);
} catch (error) {
  console.error(`smoke: FAILED on ${nodeBin}: ${error.message}\n--- server output (last lines) ---\n${output.split('\n').slice(-40).join('\n')}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}

async function smoke() {
  await until(readyWithinMs, 'GET /readyz 200', async () => (await call('GET', '/readyz')).status === 200);
  const node = (await call('GET', '/metrics', tokens.admin)).text.match(/nodejs_version_info\{version="v([\d.]+)"/)?.[1];
  const wanted = spawnSync(nodeBin, ['--version'], { encoding: 'utf8' }).stdout.trim().slice(1);
  if (node !== wanted) throw new Error(`/metrics says Node ${node}; the server was started with ${nodeBin} (${wanted})`);
  const sku = `smoke-${randomBytes(4).toString('hex')}`;
  expect(await call('POST', '/v1/products', tokens.admin, { sku, name: 'Smoke', price_cents: 1250, stock: 3 }), 201);
  const held = expect(await call('POST', '/v1/reservations', tokens.client, { user_id: 'smoke-user', items: [{ sku, qty: 1 }] },
    { 'idempotency-key': randomBytes(12).toString('hex') }), 201);
  const confirmed = expect(await call('POST', `/v1/reservations/${held.id}/confirm`, tokens.client, { payment: { token: 'tok_ok' } }), 200);
  if (confirmed.payment?.status !== 'captured' || confirmed.payment?.amount_cents !== 1250) {
    throw new Error(`confirm answered ${JSON.stringify(confirmed)}`);
  }
  await until(writtenWithinMs, `GET /v1/orders/${confirmed.order_id} 200`,
    async () => (await call('GET', `/v1/orders/${confirmed.order_id}`, tokens.client)).status === 200);
  const product = expect(await call('GET', `/v1/products/${sku}`, tokens.client), 200);
  if (product.stock.sold !== 1 || product.stock.available !== 2) throw new Error(`stock after the sale: ${JSON.stringify(product.stock)}`);
  process.kill(server.pid, 'SIGTERM');
  const stopped = await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, stoppedWithinMs, null).unref())]);
  if (!stopped) throw new Error(`still running ${stoppedWithinMs} ms after SIGTERM`);
  if (stopped.code !== 0) throw new Error(`exited with ${stopped.code ?? stopped.signal} after SIGTERM`);
  const left = servicePids().filter(isAlive);
  if (left.length > 0) throw new Error(`services still running after the stop: pids ${left.join(', ')}`);
  return node;
}

async function call(method, path, token, body, headers = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  }).catch((error) => ({ status: 0, text: async () => String(error.cause?.code ?? error.message) }));
  return { status: response.status, text: await response.text(), method, path };
}

function expect(reply, status) {
  if (reply.status !== status) throw new Error(`${reply.method} ${reply.path} answered ${reply.status} (wanted ${status}): ${reply.text.slice(0, 500)}`);
  return JSON.parse(reply.text);
}

/** Polls until check() holds; fails at the deadline or as soon as the server has exited. */
async function until(withinMs, what, check) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (exited) throw new Error(`the server exited (${exited.code ?? exited.signal}) while waiting for ${what}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function servicePids() {
  return [join(dataDir, 'redis', 'redis.pid'), join(dataDir, 'postgres', 'postmaster.pid')]
    .filter((file) => existsSync(file))
    .map((file) => Number(readFileSync(file, 'utf8').split('\n')[0]))
    .filter((pid) => pid > 0);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whatever happened: the server killed by its pid, the services stopped, the data dir removed. */
async function cleanUp() {
  if (!exited) {
    process.kill(server.pid, 'SIGKILL');
    await exit;
  }
  if (servicePids().some(isAlive)) {
    spawnSync(nodeBin, ['bin/stockade.mjs', 'services', 'down'], { cwd: root, env, stdio: 'ignore', timeout: stoppedWithinMs });
  }
  rmSync(scratch, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
