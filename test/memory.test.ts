import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultRedisMaxmemoryBytes } from '../services/local.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { shardKeys } from '../engine/index.ts';
import { advanceClock } from './support/engine.ts';
import { call, testApi, waitFor, type Answer, type TestApi } from './support/api.ts';

// Client traffic must not fill Redis: past a high watermark of maxmemory, new
// holds and new idempotency claims are refused (503 overloaded, Retry-After)
// while confirms, commits, releases and expiries of existing holds go on.
const maxmemoryBytes = 8 * 1024 * 1024;
let redisDir: string;
let redisUrl: string;
let redisAdminUrl: string;
let api: TestApi;

beforeAll(async () => {
  redisDir = mkdtempSync(join(tmpdir(), 'stockade-memory-'));
  ({ url: redisUrl, adminUrl: redisAdminUrl } = await startRedis({ dir: redisDir, port: await freePort(), maxmemoryBytes }));
  api = await testApi({ redisUrl, engine: { memoryCheckMs: 20, partitions: 8 }, workers: {} });
});
afterAll(async () => {
  await api?.close();
  await stopRedis(redisDir);
});

const reserve = (sku: string, i: number, ttlMs?: number) => call(api.url, 'POST', '/v1/reservations', {
  body: { user_id: `flood-${i}`, items: [{ sku, qty: 1 }], ...(ttlMs ? { ttl_ms: ttlMs } : {}) }, headers: { 'idempotency-key': `flood-key-${i}` } });

describe('the embedded Redis', () => {
  it('gets a maxmemory by default (a quarter of the machine\'s memory)', async () => {
    const suiteRedis = new Redis(inject('redisAdminUrl')); // CONFIG is the admin user's
    try {
      expect(((await suiteRedis.config('GET', 'maxmemory')) as string[])[1]).toBe(String(defaultRedisMaxmemoryBytes()));
    } finally {
      suiteRedis.disconnect();
    }
  });
});

describe('a flood of unique Idempotency-Keys', () => {
  it('is refused 503 at the watermark; existing holds are still confirmed, released and expired; no 500s', async () => {
    const redis = new Redis(redisAdminUrl);
    try {
      expect(((await redis.config('GET', 'maxmemory')) as string[])[1]).toBe(String(maxmemoryBytes));
      await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'MEM', name: 'm', price_cents: 100, stock: 1_000_000 } });
      // Five of them with a TTL that runs out only once the clock is moved past it, after the flood.
      const kept = await Promise.all(Array.from({ length: 30 }, (_, i) => reserve('MEM', -1 - i, i < 5 ? 120_000 : undefined)));
      for (const k of kept) expect(k.status).toBe(201);

      // Flood until the first refusal (bounded: the watermark is reached long before).
      let first: Answer | null = null;
      const statuses = new Map<number, number>();
      for (let i = 0; i < 200_000 && !first; i += 64) {
        const answers = await Promise.all(Array.from({ length: 64 }, (_, j) => reserve('MEM', i + j)));
        for (const a of answers) {
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          if (a.status !== 201) first ??= a;
        }
      }
      expect(first?.status, JSON.stringify(first?.body)).toBe(503);
      expect(first!.body.type).toBe('/problems/overloaded');
      expect(first!.headers.get('retry-after')).toMatch(/^\d+$/);
      expect([...statuses.keys()].every((s) => s === 201 || s === 503), JSON.stringify([...statuses])).toBe(true);

      // Past the watermark no new hold and no new claim is made.
      const claims = () => redis.hlen(shardKeys(api.runtime.engine.settings.keyPrefix, 0).claims);
      const claimsBefore = await claims();
      const more = await Promise.all(Array.from({ length: 50 }, (_, j) => reserve('MEM', 500_000 + j)));
      expect(more.map((a) => a.status)).toEqual(Array(50).fill(503));
      expect(await claims()).toBe(claimsBefore);
      // /readyz answers from checks made in the background: once one has seen the watermark passed.
      const ready = await waitFor(async () => { const r = await call(api.url, 'GET', '/readyz', { token: 'admin' }); return r.status === 503 && r; }, 20_000, 'not ready');
      expect(ready.status).toBe(503);
      expect(ready.body.memory).toMatchObject({ overloaded: true, max_bytes: maxmemoryBytes });

      // Existing holds: 5 expire, 1 is released, 24 are confirmed, all while the flood is refused.
      await advanceClock(api.runtime.engine, 120_000, redisUrl);
      expect((await api.runtime.engine.sweepOnce()).expired).toBe(5);
      expect((await call(api.url, 'POST', `/v1/reservations/${kept[5]!.body.id}/release`)).status).toBe(200);
      // Half of them with an Idempotency-Key: past the watermark a confirm makes no new claim, and still confirms.
      const confirms = await Promise.all(kept.slice(6).map((k, i) => call(api.url, 'POST', `/v1/reservations/${k.body.id}/confirm`,
        { body: { payment: { token: 'tok_ok' } }, headers: i % 2 ? { 'idempotency-key': `mem-confirm-${i}` } : {} })));
      expect(confirms.map((c) => c.status)).toEqual(Array(24).fill(200));
      expect(await claims()).toBe(claimsBefore);
      // Nothing lost: the 24 orders reach PostgreSQL.
      await waitFor(async () => {
        const [row] = await api.runtime.sql`select count(*)::int as n from orders`;
        return row!.n === 24;
      }, 30_000, '24 orders written through');
      const stock = (await call(api.url, 'GET', '/v1/products/MEM')).body.stock;
      expect(stock.sold).toBe(24);
      expect(stock.available + stock.reserved + stock.sold).toBe(stock.total);
    } finally {
      redis.disconnect();
    }
  });
});
