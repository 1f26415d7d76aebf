import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { expect, inject, it } from 'vitest';
import { withScratch } from '../bench/scratch.ts';
import { createProduct, oneLineBody, reserving, type SuiteContext } from '../bench/suite/context.ts';
import { runLoad } from '../bench/suite/load.ts';
import { call, startStack } from '../bench/suite/stack.ts';
import { freshDatabase } from './support/api.ts';

/**
 * The sold-out short-circuit across API processes (STOCKADE_API_PROCESSES=2,
 * sharing the port): each refuses a sold-out SKU from its own flag, and after
 * a restock none answers sold out once the bound (STOCKADE_SOLD_OUT_CACHE_MS,
 * 100 ms) has passed, on any of many fresh connections.
 */
it('after a restock, no API process answers sold out longer than the bound', async () => {
  await withScratch('stockade-soldout-test-', async (scratch) => {
    const stack = await startStack(scratch, { processes: 2, env: { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(),
      STOCKADE_KEY_PREFIX: `so${randomBytes(3).toString('hex')}:`, STOCKADE_LOG_LEVEL: 'error', STOCKADE_SOLD_OUT_CACHE_MS: '100' } });
    const ctx: SuiteContext = { quick: true, connections: 20, seconds: 1, warmupSeconds: 0, processes: 2, stack, prefix: 't-', report: () => {} };
    const sku = 'SO-1';
    await createProduct(ctx, sku, 5);
    const counter = { n: 0 };
    // A stampede over 20 connections (spread over both processes by the kernel): 5 holds, then only refusals.
    const { run } = await runLoad({ label: 'stampede', url: stack.base, connections: 20, seconds: 1,
      requests: () => [reserving(ctx, { keyPrefix: 'k', counter, body: (n) => oneLineBody(`u${n}`, sku) })] });
    expect(run.statuses['201']).toBe(5);
    expect(run.statuses['409']).toBeGreaterThan(100);

    expect((await call(stack, 'POST', `/v1/products/${sku}/stock`, { delta: 10 }, { admin: true })).status).toBe(200);
    await sleep(100); // the bound
    let n = 0;
    const result = await autocannon({ url: stack.base, connections: 10, amount: 10, requests: [{ method: 'POST', path: '/v1/reservations',
      setupRequest: (req) => {
        const i = n++;
        req.headers = { authorization: `Bearer ${stack.clientToken}`, 'content-type': 'application/json', 'idempotency-key': `after-${i}` };
        req.body = oneLineBody(`after-${i}`, sku);
        return req;
      } }] });
    expect(result.statusCodeStats).toEqual({ 201: { count: 10 } });
  });
}, 120_000);
