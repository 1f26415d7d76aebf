import { describe, expect, inject, it } from 'vitest';
import { startWorkers } from '../workers/run.ts';
import { testApi, waitFor } from './support/api.ts';
import { confirmOrder } from './support/engine.ts';

// Write-through at the edges of the settings: the largest carts, few partitions.
describe('write-through limits', () => {
  it('200 confirmed carts of 100 lines in one partition all reach PostgreSQL (more rows than one statement may bind)', async () => {
    const api = await testApi({ engine: { partitions: 1, cartLinesMax: 100 } });
    const { engine, sql, log } = api.runtime;
    const skus = Array.from({ length: 100 }, (_, i) => `BIG-${i}`);
    for (const sku of skus) await engine.createProduct({ sku, name: sku, priceCents: 10, stock: 200 });
    const items = skus.map((sku) => ({ sku, qty: 1 }));
    await Promise.all(Array.from({ length: 200 }, (_, i) => confirmOrder(engine, `big${i}`, items)));
    // Started once every order waits, so one drain batch holds them all (300 entries, 20,000 item rows).
    const workers = startWorkers(engine, inject('redisUrl'), sql, log, { pollMs: 20, lockMs: 2_000 });
    try {
      await waitFor(async () => (await engine.outbox.backlog()) === 0, 60_000, 'outbox drained');
      const [counts] = await sql`select (select count(*)::int from orders) as orders,
        (select count(*)::int from order_items) as items, (select count(*)::int from payments) as payments`;
      expect(counts).toEqual({ orders: 200, items: 20_000, payments: 200 });
    } finally {
      await workers.stop();
      await api.close();
    }
  }, 120_000);
});
