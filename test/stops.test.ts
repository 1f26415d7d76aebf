import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../services/process.ts';
import { call, waitFor } from './support/api.ts';
import { killStack, running, stackTokens, startStack, waitGone, type Stack } from './support/stack.ts';

// `npm start` as a user (or a supervisor: systemd, a container runtime, a CI job) runs and stops it:
// SIGTERM or SIGINT to the npm process stops everything it started, cleanly, and loses nothing
// acknowledged; a second signal stops at once; nothing is left running. One data directory for
// the file, so the embedded PostgreSQL is initialised once.
const dataDir = mkdtempSync(join(tmpdir(), 'stockade-stops-'));
chmodSync(dataDir, 0o711); // as root the services' OS users pass through (Stockade never loosens a dir it did not make)
let stack: Stack | null = null;
let seen: number[] = [];
let clean = false;

afterAll(() => {
  killStack(stack, seen);
  if (clean) rmSync(dataDir, { recursive: true, force: true });
});

const admin = stackTokens.admin;
const client = stackTokens.client;

/** Starts the stack and remembers its pids, so they are killed even when a test fails. */
async function up(env: Record<string, string> = {}): Promise<Stack> {
  stack = await startStack({ dataDir, port: await freePort(), env });
  seen = [...seen, ...stack.pids()];
  return stack;
}

/** Load bounded in count: workers each reserve then confirm, until the server refuses (it is stopping) or `max` holds. */
async function load(s: Stack, sku: string, o: { workers: number; max: number; signalled: () => boolean }) {
  const held = new Set<string>();
  const orders = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < o.max) {
      const n = next++;
      const reserved = await call(s.base, 'POST', '/v1/reservations', {
        token: client, body: { user_id: `u${n}`, items: [{ sku, qty: 1 }] }, headers: { 'idempotency-key': `stop-${n}` },
      }).catch(() => null);
      if (reserved?.status !== 201) {
        if (o.signalled()) return; // refused (503) or connection refused: the stop is under way
        throw new Error(`reserve answered ${reserved?.status}: ${JSON.stringify(reserved?.body)}`);
      }
      held.add(reserved.body.id);
      const confirmed = await call(s.base, 'POST', `/v1/reservations/${reserved.body.id}/confirm`, {
        token: client, body: { payment: { token: 'tok_ok' } },
      }).catch(() => null);
      if (confirmed?.status !== 200) {
        if (o.signalled()) return;
        throw new Error(`confirm answered ${confirmed?.status}: ${JSON.stringify(confirmed?.body)}`);
      }
      orders.set(reserved.body.id, confirmed.body.order_id);
    }
  };
  return { held, orders, done: Promise.all(Array.from({ length: o.workers }, worker)) };
}

describe('npm start, stopped by signals', () => {
  it('SIGTERM to npm under load: exits 0, leaves no process, and loses nothing acknowledged (checked after a restart; then SIGINT)', async () => {
    let s = await up();
    const sku = 'STOP-1';
    expect((await call(s.base, 'POST', '/v1/products', { token: admin, body: { sku, name: 'stop', price_cents: 100, stock: 1_000_000 } })).status).toBe(201);
    let signalled = false;
    const traffic = await load(s, sku, { workers: 16, max: 5_000, signalled: () => signalled });
    await waitFor(async () => traffic.orders.size >= 200, 120_000, '200 confirmed orders');
    const pids = s.pids();
    expect(pids.length).toBeGreaterThanOrEqual(4); // npm, node, redis-server, postgres at least
    const sentAt = performance.now();
    signalled = true;
    process.kill(s.pid, 'SIGTERM');
    const exit = await s.exited;
    const stopMs = Math.round(performance.now() - sentAt);
    await traffic.done;
    console.log(`SIGTERM under load: npm exited ${JSON.stringify(exit)} after ${stopMs} ms; acknowledged ${traffic.held.size} holds, ${traffic.orders.size} orders`);
    expect(exit, s.output()).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(60_000);
    await waitGone(pids, 'after SIGTERM');
    expect(s.output()).toContain('"msg":"stopped"');

    // Everything acknowledged before the signal is there after a restart.
    s = await up();
    for (const id of traffic.held) {
      const got = await call(s.base, 'GET', `/v1/reservations/${id}`, { token: client });
      expect(got.status, id).toBe(200);
      if (traffic.orders.has(id)) expect(got.body.status, id).toBe('confirmed');
    }
    const unwritten = new Set(traffic.orders.values());
    await waitFor(async () => {
      for (const order of [...unwritten]) {
        if ((await call(s.base, 'GET', `/v1/orders/${order}`, { token: client })).status === 200) unwritten.delete(order);
      }
      return unwritten.size === 0;
    }, 60_000, 'every acknowledged order in PostgreSQL');
    const stock = (await call(s.base, 'GET', `/v1/products/${sku}`, { token: client })).body.stock;
    expect(stock.sold).toBeGreaterThanOrEqual(traffic.orders.size);
    expect(stock.reserved + stock.sold).toBeGreaterThanOrEqual(traffic.held.size);
    expect(stock.available + stock.reserved + stock.sold).toBe(stock.total);

    const again = s.pids();
    process.kill(s.pid, 'SIGINT');
    expect(await s.exited, s.output()).toEqual({ code: 0, signal: null });
    await waitGone(again, 'after SIGINT');
    stack = null;
  }, 600_000);

  it("Ctrl-C (SIGINT to the process group: npm forwards it again) with two API processes: one clean stop, exit 0", async () => {
    const s = await up({ STOCKADE_API_PROCESSES: '2' });
    const pids = s.pids();
    expect(pids.length).toBeGreaterThanOrEqual(6); // npm, the primary, two API processes, redis-server, postgres
    process.kill(-s.pid, 'SIGINT');
    expect(await s.exited, s.output()).toEqual({ code: 0, signal: null });
    expect(s.output()).not.toContain('second signal');
    await waitGone(pids, 'after Ctrl-C');
    stack = null;
  }, 600_000);

  it('a second SIGTERM stops at once, though a request in flight would hold the clean stop for minutes; nothing is left', async () => {
    const s = await up({ STOCKADE_PAYMENT_TIMEOUT_MS: '300000', STOCKADE_SHUTDOWN_GRACE_MS: '300000' });
    const sku = 'STOP-2';
    await call(s.base, 'POST', '/v1/products', { token: admin, body: { sku, name: 'stop', price_cents: 100, stock: 10 } });
    const held = await call(s.base, 'POST', '/v1/reservations', {
      token: client, body: { user_id: 'slow', items: [{ sku, qty: 1 }] }, headers: { 'idempotency-key': 'slow-1' },
    });
    // tok_timeout: the provider keeps the confirm waiting for the whole payment timeout.
    const inFlight = call(s.base, 'POST', `/v1/reservations/${held.body.id}/confirm`, { token: client, body: { payment: { token: 'tok_timeout' } } })
      .catch(() => null);
    await waitFor(async () => (await call(s.base, 'GET', `/v1/reservations/${held.body.id}`, { token: client })).body.status === 'paying',
      30_000, 'the confirm in flight');
    const pids = s.pids();
    process.kill(s.pid, 'SIGTERM');
    await waitFor(async () => s.output().includes('a second SIGINT or SIGTERM now stops at once'), 60_000, 'the clean stop under way');
    expect(running(s.pid)).toBe(true); // held by the request in flight
    const sentAt = performance.now();
    process.kill(s.pid, 'SIGTERM');
    const exit = await s.exited;
    const forcedMs = Math.round(performance.now() - sentAt);
    console.log(`second SIGTERM: npm exited ${JSON.stringify(exit)} after ${forcedMs} ms`);
    expect(exit.code, s.output()).toBe(1);
    expect(s.output()).toContain('second signal: stopping at once');
    expect(forcedMs).toBeLessThan(60_000);
    await waitGone(pids, 'after the second SIGTERM');
    await inFlight;
    stack = null;
    clean = true;
  }, 600_000);
});
