import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fulfilsWithin } from '../engine/index.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { call, testApi, waitFor, type TestApi } from './support/api.ts';

// Issue #13: the benchmark suite's server-side routes, on the API's own server and router,
// served only with STOCKADE_BENCH_ROUTES=true and never documented in /openapi.json.

/** Commands Redis has run (INFO commandstats) less the INFO and DBSIZE that read them; of them, script calls; and its keys. */
async function redisWork(redis: Redis): Promise<{ calls: number; scripts: number; keys: number }> {
  const text = await redis.info('commandstats');
  let calls = 0;
  let scripts = 0;
  for (const [, name, n] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== 'info' && name !== 'dbsize') calls += Number(n);
    if (/^(evalsha|eval|fcall)(_ro)?$/.test(name!)) scripts += Number(n);
  }
  return { calls, scripts, keys: await redis.dbsize() };
}

const key = () => `k-${randomBytes(6).toString('hex')}`;
const reserve = (api: TestApi, path: string, body: unknown, o: { token?: 'client' | null; key?: string } = {}) =>
  call(api.url, 'POST', path, { token: o.token, body, headers: { 'idempotency-key': o.key ?? key() } });
const benchPaths = (document: { paths: Record<string, unknown> }) => Object.keys(document.paths).filter((p) => p.startsWith('/bench'));

describe('STOCKADE_BENCH_ROUTES=true', () => {
  // A Redis of this file's own: its command counts are this API's alone.
  const redisDir = mkdtempSync(join(tmpdir(), 'stockade-bench-routes-redis-'));
  let api: TestApi;
  let counter: Redis;

  beforeAll(async () => {
    const redis = await startRedis({ dir: redisDir, port: await freePort() });
    counter = new Redis(redis.url, { maxRetriesPerRequest: 2 });
    // Readiness checked once, at the start: no background Redis work while the ceiling is measured.
    api = await testApi({ redisUrl: redis.url, workers: false, engine: { partitions: 4 }, api: { benchRoutes: true, readinessRefreshMs: 60_000 } });
    await waitFor(async () => (await call(api.url, 'GET', '/readyz')).status === 200, 30_000, 'ready');
  }, 120_000);
  afterAll(async () => {
    counter?.disconnect();
    if (api) await fulfilsWithin(api.close(), 30_000);
    await stopRedis(redisDir);
  }, 60_000);

  it("ceiling: the router's checks and a canned 201; Redis runs no command and gains no key", async () => {
    const body = { user_id: 'u-ceiling', items: [{ sku: 'CEIL-1', qty: 1 }] };
    const before = await redisWork(counter);
    const answers = await Promise.all(Array.from({ length: 50 }, () => reserve(api, '/bench/ceiling', body)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    expect(answers[0]!.body).toMatchObject({ status: 'held', items: [{ qty: 1 }], total_cents: expect.any(Number) });
    expect(typeof answers[0]!.body.id).toBe('string');
    expect((await reserve(api, '/bench/ceiling', body, { token: null })).status).toBe(401);
    expect((await call(api.url, 'POST', '/bench/ceiling', { body })).body.type).toBe('/problems/idempotency-key-required');
    const invalid = await reserve(api, '/bench/ceiling', { user_id: 'u', items: [] });
    expect(invalid).toMatchObject({ status: 422, body: { type: '/problems/invalid-request' } });
    expect(await redisWork(counter)).toEqual(before);
    // The control: the real route's claim of its key is a script call that leaves a key.
    expect((await reserve(api, '/v1/reservations', body)).status).toBe(422); // unknown SKU
    const after = await redisWork(counter);
    expect(after.scripts).toBeGreaterThan(before.scripts);
    expect(after.keys).toBeGreaterThan(before.keys);
  });

  it('row-lock: stock 5 and 12 buyers at once: 5 holds, 7 out-of-stock, the table agrees', async () => {
    const sku = 'ROWLOCK-1';
    expect((await call(api.url, 'POST', '/bench/row-lock/products', { token: 'client', body: { sku, stock: 5 } })).status).toBe(403);
    expect(await call(api.url, 'POST', '/bench/row-lock/products', { token: 'admin', body: { sku, stock: 5 } }))
      .toMatchObject({ status: 200, body: { sku, available: 5 } });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      reserve(api, '/bench/row-lock/reservations', { user_id: `u-${i}`, items: [{ sku, qty: 1 }], ttl_ms: 60_000 })));
    const held = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 409);
    expect({ held: held.length, refused: refused.length }).toEqual({ held: 5, refused: 7 });
    for (const a of refused) expect(a.body).toMatchObject({ type: '/problems/out-of-stock', sku, available: 0 });
    const hold = held[0]!.body;
    expect(hold).toMatchObject({ id: expect.any(String), status: 'held', items: [{ sku, qty: 1 }] });
    expect(new Date(hold.expires_at).toISOString()).toBe(hold.expires_at);
    expect(Date.parse(hold.expires_at) - Date.now()).toBeGreaterThan(30_000);
    const sql = api.runtime.sql;
    expect(await sql`select available, reserved from bench_rowlock_stock where sku = ${sku}`).toEqual([{ available: 0, reserved: 5 }]);
    const holds = await sql<{ user_id: string }[]>`select user_id from bench_rowlock_holds where sku = ${sku}`;
    expect(holds.map((h) => h.user_id).sort()).toEqual(held.map((a) => a.body.user_id).sort());
  });

  it('row-lock: one line only, a reused key refused, a reset stock, and what is left when more are asked for', async () => {
    const sku = 'ROWLOCK-2';
    await call(api.url, 'POST', '/bench/row-lock/products', { token: 'admin', body: { sku, stock: 3 } });
    const twoLines = await reserve(api, '/bench/row-lock/reservations', { user_id: 'u', items: [{ sku, qty: 1 }, { sku: 'ROWLOCK-1', qty: 1 }] });
    expect(twoLines).toMatchObject({ status: 422, body: { type: '/problems/invalid-request', errors: [{ pointer: '/items' }] } });
    const used = key();
    expect((await reserve(api, '/bench/row-lock/reservations', { user_id: 'u', items: [{ sku, qty: 2 }] }, { key: used })).status).toBe(201);
    expect(await reserve(api, '/bench/row-lock/reservations', { user_id: 'u', items: [{ sku, qty: 1 }] }, { key: used }))
      .toMatchObject({ status: 422, body: { type: '/problems/idempotency-key-reused' } });
    expect(await reserve(api, '/bench/row-lock/reservations', { user_id: 'u', items: [{ sku, qty: 2 }] }))
      .toMatchObject({ status: 409, body: { type: '/problems/out-of-stock', sku, available: 1 } });
    expect(await reserve(api, '/bench/row-lock/reservations', { user_id: 'u', items: [{ sku: 'NO-SUCH-SKU', qty: 1 }] }))
      .toMatchObject({ status: 409, body: { type: '/problems/out-of-stock', sku: 'NO-SUCH-SKU', available: 0 } });
    // Setting the stock again starts the SKU afresh: reserved 0, its holds gone.
    expect((await call(api.url, 'POST', '/bench/row-lock/products', { token: 'admin', body: { sku, stock: 4 } })).body).toEqual({ sku, available: 4 });
    const sql = api.runtime.sql;
    expect(await sql`select available, reserved from bench_rowlock_stock where sku = ${sku}`).toEqual([{ available: 4, reserved: 0 }]);
    expect(await sql`select count(*)::int as n from bench_rowlock_holds where sku = ${sku}`).toEqual([{ n: 0 }]);
  });

  it('/openapi.json leaves them out', async () => {
    const document = (await call(api.url, 'GET', '/openapi.json', { token: null })).body;
    expect(Object.keys(document.paths)).toContain('/v1/reservations');
    expect(benchPaths(document)).toEqual([]);
  });
});

describe('STOCKADE_BENCH_ROUTES unset (the default)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await testApi({ workers: false });
  }, 120_000);
  afterAll(async () => {
    if (api) await fulfilsWithin(api.close(), 30_000);
  }, 60_000);

  it('/bench/… is not served, and /openapi.json has no /bench path', async () => {
    expect(api.runtime.settings.benchRoutes).toBe(false);
    const body = { user_id: 'u', items: [{ sku: 'CEIL-1', qty: 1 }] };
    expect(await reserve(api, '/bench/ceiling', body)).toMatchObject({ status: 404, body: { type: '/problems/not-found' } });
    expect((await reserve(api, '/bench/row-lock/reservations', body)).status).toBe(404);
    expect(benchPaths((await call(api.url, 'GET', '/openapi.json', { token: null })).body)).toEqual([]);
  });
});
