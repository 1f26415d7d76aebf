import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createRuntime, type Runtime } from '../app/runtime.ts';
import { createLogger, type Engine } from '../engine/index.ts';
import { freePort } from '../services/process.ts';
import { startPostgres, stopPostgres } from '../services/postgres.ts';
import type { Sql } from '../store/db.ts';
import { call, freshDatabase, testApi, waitFor } from './support/api.ts';

// Write-through under faults: a worker killed mid-batch, PostgreSQL stopped
// mid-run. Nothing lost, nothing duplicated.
const children: ChildProcess[] = [];
afterAll(() => { for (const c of children) c.kill('SIGKILL'); });

async function confirmOrders(engine: Engine, sku: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - done) }, async (_, i) => {
      const out = await engine.reserve({ userId: `w${done + i}`, items: [{ sku, qty: 1 }] });
      if (out.kind !== 'held') throw new Error(out.kind);
      await engine.beginPayment(out.reservation.id);
      const c = await engine.commit(out.reservation.id, { amountCents: 100, reference: `r${done + i}` });
      if (c.kind !== 'confirmed') throw new Error(c.kind);
    }));
  }
}

async function tally(sql: Sql, sku: string) {
  const [row] = await sql`select
      (select count(*)::int from orders) as orders,
      (select count(*)::int from payments where status = 'captured') as payments,
      (select count(*)::int from order_parts) as parts,
      (select coalesce(sum(qty), 0)::int from order_items where sku = ${sku}) as sold,
      (select count(*)::int from stock_ledger where sku = ${sku}) as ledger`;
  return row as { orders: number; payments: number; parts: number; sold: number; ledger: number };
}

const backlog = (engine: Engine) => engine.outbox.backlog();

function spawnWorker(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['bin/stockade.mjs', 'workers'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

describe('write-through faults', () => {
  it('a worker killed mid-batch and restarted leaves no duplicate and no missing row', async () => {
    const databaseUrl = await freshDatabase();
    const keyPrefix = `wk${randomBytes(3).toString('hex')}:`;
    const runtime: Runtime = await createRuntime({ redisUrl: inject('redisUrl'), databaseUrl, env: {}, engine: { keyPrefix, partitions: 4 },
      log: createLogger('test', 'silent'), providerDir: mkdtempSync(join(tmpdir(), 'stockade-provider-')) });
    try {
      const { engine, sql } = runtime;
      const orders = 4_000;
      await engine.createProduct({ sku: 'KILL-1', name: 'k', priceCents: 100, stock: orders });
      await confirmOrders(engine, 'KILL-1', orders);
      expect(await backlog(engine)).toBe(orders + 1);
      const env = { REDIS_URL: inject('redisUrl'), DATABASE_URL: databaseUrl, STOCKADE_KEY_PREFIX: keyPrefix, STOCKADE_PARTITIONS: '4',
        STOCKADE_OUTBOX_BATCH_MAX: '25', STOCKADE_WORKER_LOCK_MS: '1000', STOCKADE_WORKER_CONCURRENCY: '1', STOCKADE_LOG_LEVEL: 'error',
        STOCKADE_PROVIDER_DIR: mkdtempSync(join(tmpdir(), 'stockade-provider-')) };
      const first = spawnWorker(env);
      const exited = new Promise((r) => first.once('exit', r));
      await waitFor(async () => (await tally(sql, 'KILL-1')).orders > 0, 30_000, 'first rows');
      first.kill('SIGKILL');
      await exited;
      const atKill = await tally(sql, 'KILL-1');
      expect(atKill.orders).toBeLessThan(orders); // it died mid-run
      expect(await backlog(engine)).toBeGreaterThan(0);

      spawnWorker(env); // its stalled job is taken over once the lock runs out
      await waitFor(async () => (await backlog(engine)) === 0, 60_000, 'outbox drained');
      expect(await tally(sql, 'KILL-1')).toEqual({ orders, payments: orders, parts: orders, sold: orders, ledger: 1 });
      expect((await engine.getProduct('KILL-1'))!.stock.sold).toBe(orders);
    } finally {
      for (const c of children) c.kill('SIGTERM');
      await runtime.close();
    }
  }, 120_000);

  it('PostgreSQL stopped and restarted mid-run: reserves and confirms keep working, nothing is lost', async () => {
    const pgDir = mkdtempSync(join(tmpdir(), 'stockade-pg-'));
    const port = await freePort();
    const pg = await startPostgres({ dir: pgDir, port, ephemeral: true });
    const api = await testApi({ databaseUrl: pg.url, workers: { pollMs: 20 } });
    try {
      await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'PGD-1', name: 'p', price_cents: 100, stock: 1_000 } });
      let buyer = 0;
      const buy = async (count: number) => {
        const statuses = await Promise.all(Array.from({ length: count }, async () => {
          const i = buyer++;
          const held = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: `p${i}`, items: [{ sku: 'PGD-1', qty: 1 }] }, headers: { 'idempotency-key': `pg-${i}` } });
          if (held.status !== 201) return held.status;
          return (await call(api.url, 'POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } })).status;
        }));
        expect(statuses.every((s) => s === 200), JSON.stringify(statuses)).toBe(true);
      };
      await buy(100);
      await stopPostgres(pgDir);
      await buy(100); // PostgreSQL is down: reserves and confirms still work
      // /readyz answers from checks made in the background: once one has seen PostgreSQL gone and the backlog.
      const ready = await waitFor(async () => {
        const r = await call(api.url, 'GET', '/readyz', { token: 'admin' });
        return r.body.status === 'degraded' && r.body.outbox_backlog > 0 && r;
      }, 20_000, 'degraded with a backlog');
      expect(ready.status).toBe(200); // degraded, still able to hold and confirm: a load balancer keeps it
      expect(ready.body).toMatchObject({ status: 'degraded', checks: { redis: 'ok', postgres: 'down' } });
      expect(ready.body.outbox_backlog).toBeGreaterThan(0);
      await startPostgres({ dir: pgDir, port, ephemeral: true });
      await buy(100);
      await waitFor(async () => (await api.writeThrough!.backlog()) === 0, 60_000, 'outbox drained after PostgreSQL came back');
      expect(await tally(api.runtime.sql, 'PGD-1')).toEqual({ orders: 300, payments: 300, parts: 300, sold: 300, ledger: 1 });
      expect((await call(api.url, 'GET', '/v1/products/PGD-1')).body.stock).toEqual({ total: 1_000, available: 700, reserved: 0, sold: 300 });
      await waitFor(async () => (await call(api.url, 'GET', '/readyz', { token: null })).body.status === 'ready', 20_000, 'ready again');
    } finally {
      await api.close();
      await stopPostgres(pgDir);
    }
  }, 120_000);
});
