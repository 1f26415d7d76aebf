import { Unpackr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalsOf, type Engine } from '../engine.ts';
import { Code } from './codes.ts';
import { partitionOfId } from '../holds/ids.ts';
import type { OutboxEvent } from './outbox-events.ts';
import { decodeRecord, type HoldRecord } from './records.ts';
import { partitionOf } from './partition.ts';
import { skusInDistinctPartitions, testEngine } from '../../test/support/engine.ts';

// What the scripts write, read back: hold records and outbox events the Lua
// code writes decode in TypeScript to what was asked of the scripts.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine()));
afterAll(() => close());

const partitionOfSku = (sku: string) => partitionOf(sku, engine.settings.partitions);

/** A partition's outbox: each entry's `v` as stored, and its decoded event. */
async function outbox(partition: number): Promise<{ v: unknown; event: OutboxEvent }[]> {
  const raw = (await internalsOf(engine).ctx.redis.xrangeBuffer(internalsOf(engine).ctx.keys.partition(partition).outbox, '-', '+')) as unknown as [Buffer, Buffer[]][];
  const decoded = await engine.outbox.read(partition, 1_000);
  expect(decoded.map((d) => d.event === null ? d.problem : '')).toEqual(decoded.map(() => ''));
  const unpackr = new Unpackr({ int64AsType: 'number', mapsAsObjects: true });
  return decoded.map((d, i) => ({ v: (unpackr.unpack(raw[i]![1][1]!) as { v?: unknown }).v, event: d.event! }));
}

describe('outbox events the scripts append', () => {
  it('product, stock, a cart\'s order over three partitions and a refund decode to what was asked, as version 3 (numbered per partition)', async () => {
    const [a, b, c] = skusInDistinctPartitions(engine, `rt${++n}`, 3) as [string, string, string];
    const user = 'u\x1f,é ☕';
    await engine.createProduct({ sku: a, name: 'Café ☕ mug', priceCents: 150, stock: 10, perUserLimit: 3 });
    await engine.createProduct({ sku: b, name: b, priceCents: 200, stock: 5 });
    await engine.createProduct({ sku: c, name: c, priceCents: 300, stock: 5 });
    await engine.adjustStock(a, -2);
    const held = await engine.reserve({ userId: user, items: [{ sku: a, qty: 2 }, { sku: b, qty: 1 }, { sku: c, qty: 3 }] });
    if (held.kind !== 'held') throw new Error(held.kind);
    const id = held.reservation.id;
    expect(await engine.beginPayment(id)).toMatchObject({ kind: 'paying', totalCents: 1_400 });
    const committed = await engine.commit(id, { amountCents: 1_400, reference: 'ch_rt' });
    expect(committed).toEqual({ kind: 'confirmed', orderId: expect.stringMatching(/^o[a-z2-7]{24}$/) });
    const orderId = committed.kind === 'confirmed' ? committed.orderId : '';
    const late = await engine.reserve({ userId: 'u2', items: [{ sku: a, qty: 1 }] });
    if (late.kind !== 'held') throw new Error(late.kind);
    await engine.release(late.reservation.id);
    await engine.recordRefund(late.reservation.id, { amountCents: 150, reference: 're_rt', reason: 'late capture' });

    const home = partitionOfId(id, engine.settings.partitions);
    const at = expect.any(Number);
    const order = { t: 'order', id, order: orderId, user, amount: 1_400, payment: 'ch_rt', at };
    const orderPart = (sku: string, qty: number, priceCents: number) => {
      const p = partitionOfSku(sku);
      const parts = p === home ? [a, b, c].map(partitionOfSku).sort((x, y) => x - y) : [];
      return { ...order, home: p === home ? '' : String(home), parts, lines: [{ sku, qty, priceCents }], total: qty * priceCents };
    };
    const sorted = (e: OutboxEvent) => (e.t === 'order' ? { ...e, parts: [...e.parts].sort((x, y) => x - y) } : e);

    const inA = await outbox(partitionOfSku(a));
    expect(inA.map((e) => sorted(e.event))).toEqual([
      { t: 'product', sku: a, name: 'Café ☕ mug', price: 150, limit: 3, stock: 10, at, q: 1 },
      { t: 'stock', sku: a, delta: -2, total: 8, at, q: 2 },
      { ...orderPart(a, 2, 150), q: 3 },
      { t: 'refund', id: late.reservation.id, user: 'u2', amount: 150, payment: 're_rt', reason: 'late capture', at, q: 4 },
    ]);
    const inB = await outbox(partitionOfSku(b));
    expect(inB.map((e) => sorted(e.event))).toEqual([
      { t: 'product', sku: b, name: b, price: 200, limit: 0, stock: 5, at, q: 1 },
      { ...orderPart(b, 1, 200), q: 2 },
    ]);
    const inC = await outbox(partitionOfSku(c));
    expect(inC.map((e) => sorted(e.event))).toEqual([
      { t: 'product', sku: c, name: c, price: 300, limit: 0, stock: 5, at, q: 1 },
      { ...orderPart(c, 3, 300), q: 2 },
    ]);
    expect([...inA, ...inB, ...inC].map((e) => e.v)).toEqual(Array(8).fill(3));
  });
});

/** The records of a partition's holds hash (not the operation replies kept beside them), decoded, by id. */
async function records(partition: number): Promise<Map<string, HoldRecord>> {
  const all = await internalsOf(engine).ctx.redis.hgetall(internalsOf(engine).ctx.keys.partition(partition).holds);
  const raw = Object.entries(all).filter(([id]) => !id.startsWith('op:'));
  for (const [, r] of raw) expect(r.startsWith('2\x1f')).toBe(true);
  return new Map(raw.map(([id, r]) => [id, decodeRecord(r)]));
}

describe('hold records the scripts write', () => {
  it('a cart over three partitions: the home part and the other parts', async () => {
    const [a, b, c] = skusInDistinctPartitions(engine, `rr${++n}`, 3) as [string, string, string];
    for (const [i, sku] of [a, b, c].entries()) await engine.createProduct({ sku, name: sku, priceCents: 100 * (i + 1), stock: 5, perUserLimit: i });
    const user = '\x1fu\x1f,1 é ☕\x1f';
    const held = await engine.reserve({ userId: user, items: [{ sku: a, qty: 1 }, { sku: b, qty: 1 }, { sku: c, qty: 2 }], ttlMs: 60_000 });
    if (held.kind !== 'held') throw new Error(held.kind);
    const { id } = held.reservation;
    const home = partitionOfId(id, engine.settings.partitions);
    const cartParts = [a, b, c].map(partitionOfSku).sort((x, y) => x - y);
    for (const [sku, qty, priceCents] of [[a, 1, 100], [b, 1, 200], [c, 2, 300]] as const) {
      const p = partitionOfSku(sku);
      const record = (await records(p)).get(id)!;
      expect({ ...record, parts: [...record.parts].sort((x, y) => x - y) }).toEqual({
        status: 'held', userId: user, createdAtMs: expect.any(Number), expiresAtMs: expect.any(Number), home: p === home ? '' : String(home),
        parts: p === home ? cartParts : [], lines: [{ sku, qty, priceCents }], endedAtMs: 0, note: null, reason: '',
        unfinished: false, orderId: '' });
      expect(record.expiresAtMs - record.createdAtMs).toBe(60_000); // each part holds from its own step
    }
  });

  it('a recorded rejection, a release with a reason, a confirmed order', async () => {
    const [sku] = skusInDistinctPartitions(engine, `rr${++n}`, 1) as [string];
    const p = partitionOfSku(sku);
    await engine.createProduct({ sku, name: sku, priceCents: 150, stock: 3 });
    const refused = await engine.reserve({ userId: 'ü', items: [{ sku, qty: 4 }], idempotencyKey: `rr-${n}` });
    expect(refused).toEqual({ kind: 'out_of_stock', sku, available: 3 });
    const declined = await engine.reserve({ userId: 'd', items: [{ sku, qty: 1 }] });
    const bought = await engine.reserve({ userId: 'b', items: [{ sku, qty: 2 }] });
    if (declined.kind !== 'held' || bought.kind !== 'held') throw new Error('expected holds');
    await engine.release(declined.reservation.id, 'declined');
    await engine.beginPayment(bought.reservation.id);
    const committed = await engine.commit(bought.reservation.id, { amountCents: 300, reference: 'ch_rr' });
    const orderId = committed.kind === 'confirmed' ? committed.orderId : 'none';

    const byId = await records(p);
    const rejected = [...byId.values()].find((r) => r.status === 'rejected');
    expect(rejected).toMatchObject({ userId: 'ü', expiresAtMs: 0, note: [Code.OUT_OF_STOCK, sku, 3], reason: '',
      lines: [{ sku, qty: 4, priceCents: 0 }] });
    expect(rejected!.endedAtMs).toBe(rejected!.createdAtMs);
    expect(byId.get(declined.reservation.id)).toMatchObject({ status: 'released', note: null, reason: 'declined', userId: 'd',
      endedAtMs: expect.any(Number), lines: [{ sku, qty: 1, priceCents: 150 }] });
    expect(byId.get(bought.reservation.id)).toMatchObject({ status: 'confirmed', orderId, note: null,
      reason: '', lines: [{ sku, qty: 2, priceCents: 150 }] });
  });
});
