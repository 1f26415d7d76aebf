import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../services/process.ts';
import { call, freshDatabase, waitFor } from './support/api.ts';
import { startListening } from './support/stack.ts';
import { servingPid } from './support/serving.ts';
import { inject } from 'vitest';

// `stockade start` as a user runs it: several API processes on one port, and a
// graceful shutdown that lets requests in flight finish.
let child: ChildProcess | null = null;
afterAll(() => { child?.kill('SIGKILL'); });

it('stockade workers with NODE_ENV=production starts without the API bearer tokens (it serves no HTTP)', async () => {
  const workers = spawn(process.execPath, ['bin/stockade.mjs', 'workers'], {
    env: { ...process.env, NODE_ENV: 'production', REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(),
      STOCKADE_KEY_PREFIX: `wk${Date.now()}:`, STOCKADE_ADMIN_TOKEN: '', STOCKADE_CLIENT_TOKEN: '', STOCKADE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = workers;
  let output = '';
  workers.stdout!.on('data', (d) => { output += d; });
  workers.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((resolve) => workers.once('exit', (code) => resolve(code)));
  const running = new Promise<boolean>((resolve) => {
    workers.stdout!.on('data', () => { if (output.includes('write-through workers running')) resolve(true); });
    void exited.then(() => resolve(false));
  });
  expect(await running, output).toBe(true);
  workers.kill('SIGTERM');
  const code = await exited;
  expect(code, output).toBe(0);
  child = null;
}, 60_000);

it('STOCKADE_API_PROCESSES=2 serves from two processes; SIGTERM finishes the request in flight', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const started = await startListening(port, { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(),
    STOCKADE_API_PROCESSES: '2', STOCKADE_KEY_PREFIX: `proc${port}:`, STOCKADE_ADMIN_TOKEN: 'pa', STOCKADE_CLIENT_TOKEN: 'pc',
    STOCKADE_PAYMENT_TIMEOUT_MS: '1500', STOCKADE_PROVIDER_DIR: mkdtempSync(join(tmpdir(), 'stockade-provider-')) });
  child = started.child;
  const exited = started.exited;

  // Separate connections land on either process (once both listen): the kernel says which process serves each.
  const pids = new Set<number>();
  await waitFor(async () => {
    pids.add(await servingPid(port));
    return pids.size >= 2;
  }, 30_000, 'both API processes answering');
  expect(pids.size).toBe(2);

  await call(base, 'POST', '/v1/products', { token: 'pa', body: { sku: 'PR-1', name: 'p', price_cents: 5, stock: 5 } });
  const held = await call(base, 'POST', '/v1/reservations', { token: 'pc', body: { user_id: 'u', items: [{ sku: 'PR-1', qty: 1 }] }, headers: { 'idempotency-key': 'p1' } });
  expect(held.status).toBe(201);
  // A confirm whose provider takes the whole 1.5 s timeout is in flight when SIGTERM arrives.
  const inFlight = call(base, 'POST', `/v1/reservations/${held.body.id}/confirm`, { token: 'pc', body: { payment: { token: 'tok_timeout' } } });
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGTERM');
  const answer = await inFlight;
  expect(answer.status).toBe(202);
  expect(await exited).toBe(0);
  child = null;
  await expect(fetch(`${base}/healthz`)).rejects.toThrow();
}, 60_000);
