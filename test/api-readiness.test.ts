import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fulfilsWithin, partitionKeys } from '../engine/index.ts';
import { startPostgres, stopPostgres } from '../services/postgres.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { call, testApi, type TestApi, waitFor } from './support/api.ts';

// /readyz tells the truth: 503 only when this process cannot hold and confirm
// (Redis unreachable; fenced and overloaded are the other reasons); PostgreSQL
// down, a write-through backlog or parked entries are `degraded` (200), while
// holds and confirms go on. A Redis and a PostgreSQL of this file's own, so
// they can be stopped.
const redisDir = mkdtempSync(join(tmpdir(), 'stockade-ready-redis-'));
const pgDir = mkdtempSync(join(tmpdir(), 'stockade-ready-pg-'));
let redisPort: number;
let redisUrl: string;
let pgPort: number;
let api: TestApi;
let n = 0;

beforeAll(async () => {
  [redisPort, pgPort] = await Promise.all([freePort(), freePort()]);
  const [redis, pg] = await Promise.all([startRedis({ dir: redisDir, port: redisPort }), startPostgres({ dir: pgDir, port: pgPort, ephemeral: true })]);
  redisUrl = redis.url;
  api = await testApi({ redisUrl, databaseUrl: pg.url, workers: { pollMs: 20 }, api: { readinessRefreshMs: 200 } });
  await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'RDY-1', name: 'r', price_cents: 100, stock: 1_000 } });
}, 120_000);
afterAll(async () => {
  // Bounded, so this file's own services are stopped whatever closing the API meets (its stores were stopped and
  // restarted under it): a close that hangs is reported, not waited for until the hook times out.
  const closed = api ? await fulfilsWithin(api.close(), 30_000) : true;
  await Promise.all([stopRedis(redisDir), stopPostgres(pgDir)]);
  // Reported, not asserted: this file is about readiness; the close is what the other files' teardowns check.
  if (!closed) console.warn('api-readiness: the API did not close within 30 s after its stores were restarted under it');
}, 60_000);

const readiness = (token: 'admin' | 'client' | null = 'admin') => call(api.url, 'GET', '/readyz', { token });
/** /readyz answers from checks made in the background: the first answer of the given status (the admin's view). */
const readinessOnce = (status: string) => waitFor(async () => {
  const r = await readiness();
  return r.body.status === status && r;
}, 30_000, `/readyz ${status}`);

/** Holds and confirms `count` reservations; their statuses. */
async function buy(count: number): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const i = ++n;
    const held = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: `r${i}`, items: [{ sku: 'RDY-1', qty: 1 }] }, headers: { 'idempotency-key': `rdy-${i}` } });
    if (held.status !== 201) return held.status;
    return (await call(api.url, 'POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } })).status;
  }));
}

describe('/readyz', () => {
  it('ready: 200 {status: "ready"}; the detail for the admin token only', async () => {
    await waitFor(async () => (await readiness()).body.status === 'ready', 20_000, 'ready');
    expect((await readiness(null)).body).toEqual({ status: 'ready' });
    expect((await readiness('client')).body).toEqual({ status: 'ready' });
    expect((await readiness()).body).toMatchObject({ status: 'ready', reasons: [], checks: { redis: 'ok', postgres: 'ok', fenced: false } });
  });

  it('PostgreSQL stopped: 200 degraded, and reservations and confirms still succeed; ready again once it is back', async () => {
    await stopPostgres(pgDir);
    const degraded = await readinessOnce('degraded');
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({ status: 'degraded', reasons: ['postgres_unreachable'], checks: { redis: 'ok', postgres: 'down' } });
    expect((await readiness(null)).body).toEqual({ status: 'degraded' });
    expect(await buy(20)).toEqual(Array(20).fill(200));
    await waitFor(async () => (await readiness()).body.outbox_backlog >= 20, 30_000, 'the backlog seen');
    // What needs PostgreSQL says so: 503 unavailable with Retry-After.
    const orders = await call(api.url, 'GET', '/v1/users/r1/orders');
    expect([orders.status, orders.body.type, orders.headers.get('retry-after')]).toEqual([503, '/problems/unavailable', '1']);

    await startPostgres({ dir: pgDir, port: pgPort, ephemeral: true });
    // Ready as soon as PostgreSQL answers: a backlog of 20 entries is far below a tenth of STOCKADE_OUTBOX_LENGTH_MAX.
    await waitFor(async () => (await readiness()).body.status === 'ready', 60_000, 'ready after PostgreSQL came back');
    await waitFor(async () => (await readiness()).body.outbox_backlog === 0, 60_000, 'the outbox drained');
  }, 120_000);

  it('parked outbox entries: 200 degraded (outbox_parked)', async () => {
    const parked = partitionKeys(api.runtime.engine.settings.keyPrefix, 0).parked;
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    try {
      const id = await redis.xadd(parked, '*', 'src', '0-1', 'reason', 'test');
      const r = await readinessOnce('degraded');
      expect([r.status, r.body.status, r.body.reasons, r.body.outbox_parked]).toEqual([200, 'degraded', ['outbox_parked'], 1]);
      await redis.xdel(parked, id!);
      await readinessOnce('ready');
    } finally {
      redis.disconnect();
    }
  });

  it('Redis stopped: 503 not ready with Retry-After (a hold cannot be made); ready again once it is back', async () => {
    await stopRedis(redisDir);
    const down = await readinessOnce('not_ready');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(down.body).toMatchObject({ status: 'not_ready', reasons: ['redis_unreachable'], checks: { redis: 'down', postgres: 'ok' } });
    expect((await readiness(null)).body).toEqual({ status: 'not_ready' });
    expect(await buy(1)).toEqual([503]);
    await startRedis({ dir: redisDir, port: redisPort });
    await waitFor(async () => (await readiness()).status === 200, 30_000, 'ready after Redis came back');
    expect(await buy(5)).toEqual(Array(5).fill(200));
  }, 120_000);
});
