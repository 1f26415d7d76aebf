import { describe, expect, it } from 'vitest';
import { verify } from '../reconciler/verify.ts';
import { masterOfSku } from './support/cluster.ts';
import { clusterApiForFile } from './support/cluster-api.ts';
import { call, waitFor } from './support/api.ts';

// Redis Cluster (issue #16): REDIS_URL names one node of a local 3-master
// cluster; Stockade finds out (INFO cluster) and uses a Cluster client, so each
// partition's scripts run on the master of its slot. Products, holds, a cart
// over three partitions, confirms, write-through and verify, end to end.
const fixture = clusterApiForFile();

describe('on a 3-master Redis Cluster', () => {
  it('is found out from one node; a product, a hold, a cart over three masters, confirms and their orders in PostgreSQL', async () => {
    const api = fixture.api();
    const cluster = fixture.cluster();
    expect(api.runtime.engine.onCluster).toBe(true);
    // 64 partitions spread over the three masters (what the start logs); none without.
    const perMaster = await api.runtime.engine.partitionsPerMaster();
    expect(perMaster?.size).toBe(3);
    expect([...perMaster!.values()].reduce((a, b) => a + b, 0)).toBe(api.runtime.engine.settings.partitions);
    expect(Math.min(...perMaster!.values())).toBeGreaterThan(0);
    const { partitions, keyPrefix } = api.runtime.engine.settings;
    // Three SKUs whose partitions live on three different masters (CLUSTER SLOTS says which master has a slot).
    const masterOf = (sku: string) => masterOfSku(cluster, keyPrefix, partitions, sku);
    const skus: string[] = [];
    const used = new Set<number>();
    for (let i = 0; skus.length < 3; i++) {
      const sku = `CL-${i}`;
      const master = await masterOf(sku);
      if (used.has(master)) continue;
      used.add(master);
      skus.push(sku);
      const created = await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock: 10 } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    const single = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: 'c1', items: [{ sku: skus[0], qty: 2 }] },
      headers: { 'idempotency-key': 'cl-1' } });
    expect(single.status, JSON.stringify(single.body)).toBe(201);
    const again = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: 'c1', items: [{ sku: skus[0], qty: 2 }] },
      headers: { 'idempotency-key': 'cl-1' } });
    expect(again.body.id).toBe(single.body.id);
    const cart = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: 'c2', items: skus.map((sku) => ({ sku, qty: 1 })) },
      headers: { 'idempotency-key': 'cl-2' } });
    expect(cart.status, JSON.stringify(cart.body)).toBe(201);
    const orders: string[] = [];
    for (const id of [single.body.id, cart.body.id]) {
      const confirmed = await call(api.url, 'POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
      expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
      orders.push(confirmed.body.order_id);
    }
    for (const orderId of orders) {
      await waitFor(async () => (await call(api.url, 'GET', `/v1/orders/${orderId}`)).status === 200, 20_000, `order ${orderId} written through`);
    }
    expect((await call(api.url, 'GET', `/v1/products/${skus[0]}`)).body.stock).toEqual({ total: 10, available: 7, reserved: 0, sold: 3 });
    expect((await call(api.url, 'GET', `/v1/products/${skus[1]}`)).body.stock).toEqual({ total: 10, available: 9, reserved: 0, sold: 1 });
    await waitFor(async () => (await api.runtime.engine.outbox.backlog()) === 0, 20_000, 'outbox drained');
    expect((await verify(api.runtime)).violations).toEqual([]);
  }, 120_000);
});
