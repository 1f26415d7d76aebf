import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../store/db.ts';
import { call, testApi, waitFor, type TestApi } from './support/api.ts';
import { skusInOnePartition } from './support/engine.ts';
import { partitionOf } from '../engine/index.ts';

// Checkout through write-through: real server, Redis, PostgreSQL and BullMQ workers.
let api: TestApi;
let n = 0;
const req = (method: string, path: string, o: Parameters<typeof call>[3] = {}) => call(api.url, method, path, o);

beforeAll(async () => { api = await testApi({ workers: {} }); });
afterAll(() => api.close());

async function product(stock: number): Promise<string> {
  const sku = `WT-${++n}`;
  expect((await req('POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 500, stock } })).status).toBe(201);
  return sku;
}

/** Invariant D's second half: PostgreSQL's sold per SKU (order items) equals Redis's. */
export async function soldInPostgres(sql: Sql, sku: string): Promise<number> {
  const [row] = await sql`select coalesce(sum(qty), 0)::int as sold from order_items where sku = ${sku}`;
  return row!.sold as number;
}

const drained = (a: TestApi) => waitFor(async () => (await a.writeThrough!.backlog()) === 0, 30_000, 'outbox drained');

describe('write-through', () => {
  it('the whole flow: reserve, confirm, then the order with items and payment from PostgreSQL', async () => {
    const sku = await product(10);
    const held = await req('POST', '/v1/reservations', { body: { user_id: 'carol', items: [{ sku, qty: 2 }] }, headers: { 'idempotency-key': `wt-${n}` } });
    const confirmed = await req('POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
    expect(confirmed.status).toBe(200);
    const orderId = confirmed.body.order_id;
    const order = await waitFor(async () => {
      const a = await req('GET', `/v1/orders/${orderId}`);
      return a.status === 200 ? a.body : undefined;
    }, 10_000, 'order written through');
    expect(order).toEqual({
      id: orderId, reservation_id: held.body.id, user_id: 'carol', total_cents: 1000, created_at: expect.any(String),
      items: [{ sku, qty: 2, price_cents: 500 }],
      payment: { status: 'captured', amount_cents: 1000, captured_at: expect.any(String) },
    });
    const mine = await req('GET', '/v1/users/carol/orders');
    expect(mine.body.items.map((o: { id: string }) => o.id)).toContain(orderId);
    await drained(api);
    const [ledger] = await api.runtime.sql`select count(*)::int as n, sum(delta)::int as total from stock_ledger where sku = ${sku}`;
    expect(ledger).toEqual({ n: 1, total: 10 });
  });

  it('a declined payment releases the units and writes no order', async () => {
    const sku = await product(5);
    const held = await req('POST', '/v1/reservations', { body: { user_id: 'dan', items: [{ sku, qty: 5 }] }, headers: { 'idempotency-key': `wt-${n}` } });
    expect((await req('POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_declined' } } })).status).toBe(402);
    expect((await req('GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
    await drained(api);
    const [row] = await api.runtime.sql`select count(*)::int as n from orders where reservation_id = ${held.body.id}`;
    expect(row!.n).toBe(0);
  });

  it('1,000 concurrent buyers for 100 units: exactly 100 orders and 100 captured payments', async () => {
    const sku = await product(100);
    const buyer = async (i: number) => {
      const held = await req('POST', '/v1/reservations', { body: { user_id: `b${i}`, items: [{ sku, qty: 1 }] }, headers: { 'idempotency-key': `buy-${sku}-${i}` } });
      if (held.status !== 201) {
        expect(held.status).toBe(409);
        return null;
      }
      // The contract: a 202 (the provider slower than the payment timeout) is retried until the outcome is final.
      const confirm = () => req('POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
      const c = await waitFor(async () => {
        const a = await confirm();
        return a.status === 202 ? undefined : a;
      }, 60_000, 'a final confirm');
      expect(c.status).toBe(200);
      return c.body.order_id as string;
    };
    const orders = (await Promise.all(Array.from({ length: 1000 }, (_, i) => buyer(i)))).filter(Boolean);
    expect(orders).toHaveLength(100);
    expect((await req('GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 100, available: 0, reserved: 0, sold: 100 });
    await drained(api);
    const sql = api.runtime.sql;
    const [counts] = await sql`select count(distinct o.id)::int as orders, count(p.order_id)::int as payments,
        count(*) filter (where p.status = 'captured')::int as captured
      from orders o join order_items i on i.order_id = o.id left join payments p on p.order_id = o.id where i.sku = ${sku}`;
    expect(counts).toEqual({ orders: 100, payments: 100, captured: 100 });
    expect(await soldInPostgres(sql, sku)).toBe(100);
    const [dupes] = await sql`select count(*)::int as n from (select reservation_id from orders group by 1 having count(*) > 1) d`;
    expect(dupes!.n).toBe(0);
  });

  it('a cart across partitions is shown once every part is written, with all its items', async () => {
    const engine = api.runtime.engine;
    const [a] = skusInOnePartition(engine, `WTC${n++}`, 1);
    const [b] = skusInOnePartition(engine, `WTC${n++}`, 1, partitionOf(a!, engine.settings.partitions));
    for (const sku of [a!, b!]) await req('POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock: 5 } });
    const held = await req('POST', '/v1/reservations', { body: { user_id: 'erin', items: [{ sku: a, qty: 1 }, { sku: b, qty: 2 }] }, headers: { 'idempotency-key': `cart-${n}` } });
    const c = await req('POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
    expect(c.body.payment.amount_cents).toBe(300);
    const order = await waitFor(async () => {
      const o = await req('GET', `/v1/orders/${c.body.order_id}`);
      return o.status === 200 ? o.body : undefined;
    }, 10_000, 'cart order');
    expect(order.items).toHaveLength(2);
    expect(order.total_cents).toBe(300);
  });

  it('reserves are refused (503) while the write-through backlog is over its limit; confirms are not', async () => {
    const small = await testApi({ engine: { partitions: 1, outboxLengthMax: 3 } });
    try {
      const r = (body: unknown, key: string) => call(small.url, 'POST', '/v1/reservations', { body, headers: { 'idempotency-key': key } });
      await call(small.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'BL', name: 'b', price_cents: 1, stock: 10 } });
      const held = [];
      for (let i = 0; i < 3; i++) held.push((await r({ user_id: `u${i}`, items: [{ sku: 'BL', qty: 1 }] }, `bl-${i}`)).body.id);
      // No workers: every confirm's order stays in the outbox.
      for (const id of held) expect((await call(small.url, 'POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } })).status).toBe(200);
      const refused = await r({ user_id: 'late', items: [{ sku: 'BL', qty: 1 }] }, 'bl-late');
      expect(refused.status).toBe(503);
      expect(refused.body.type).toBe('/problems/overloaded');
      expect(refused.headers.get('retry-after')).toBe('1');
      // /readyz answers from checks made in the background: once one has seen the backlog.
      await waitFor(async () => (await call(small.url, 'GET', '/readyz', { token: 'admin' })).body.outbox_backlog === 4, 20_000, 'backlog of 4 seen');
    } finally {
      await small.close();
    }
  });
});
