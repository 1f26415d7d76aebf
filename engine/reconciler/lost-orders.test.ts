import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../index.ts';
import { advanceClock, conserved, skusInDistinctPartitions, stockOf, testEngine } from '../../test/support/engine.ts';
import { internalsOf } from '../engine.ts';
import { partitionOfId } from '../holds/ids.ts';
import { partitionOf } from '../redis/partition.ts';
import { decodeRecord } from '../redis/records.ts';
import { restoreCartPart } from '../redis/scripts/restoreCartPart.ts';
import { dueIds } from '../redis/scripts/dueIds.ts';

// Restoring the order of a multi-partition cart whose capture Redis and
// PostgreSQL both lost (repair's restore_order): all parts or none, never below
// zero, against a real Redis. Single-partition restores: audit.test.ts.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine({ keyShards: 1 })));
afterAll(() => close());

const partitionOfSku = (sku: string) => partitionOf(sku, engine.settings.partitions);

/** Three SKUs in three partitions, `stock` units each. */
async function products(stock: number): Promise<string[]> {
  const skus = skusInDistinctPartitions(engine, `lo${++n}`, 3);
  for (const sku of skus) expect((await engine.createProduct({ sku, name: 'p', priceCents: 100, stock })).kind).toBe('created');
  return skus;
}

/** A cart id over the SKUs' partitions whose records Redis lost (as after a lost second), with its units back. */
async function lostCartId(skus: string[]): Promise<string> {
  const held = await engine.reserve({ userId: 'x', items: skus.map((sku) => ({ sku, qty: 1 })) });
  if (held.kind !== 'held') throw new Error(held.kind);
  const id = held.reservation.id;
  expect(await engine.release(id)).toEqual({ kind: 'released' });
  await forget(id, skus);
  return id;
}

async function forget(id: string, skus: string[]): Promise<void> {
  const { ctx } = internalsOf(engine);
  for (const sku of skus) await ctx.redis.hdel(ctx.keys.partition(partitionOfSku(sku)).holds, id);
}

const lost = (id: string, skus: string[], qty: number) => ({ reservationId: id, userId: 'u9', amountCents: skus.length * qty * 100,
  reference: `ch_${id}`, orderId: `ord_${id}`, lines: skus.map((sku) => ({ sku, qty, priceCents: 100 })) });

async function recordAt(sku: string, id: string) {
  const { ctx } = internalsOf(engine);
  const raw = await ctx.redis.hget(ctx.keys.partition(partitionOfSku(sku)).holds, id);
  return raw ? decodeRecord(raw) : null;
}

/** The order events of a reservation in the SKU's partition's outbox. */
async function orderEvents(sku: string, id: string) {
  const snap = await engine.partitionSnapshot(partitionOfSku(sku));
  return snap.outbox.flatMap((e) => (e.event?.t === 'order' && e.event.id === id ? [e.event] : []));
}

describe('restoring a lost multi-partition cart', () => {
  it('sells every part under the charge\'s order id, with one order event per part; a repeat changes nothing', async () => {
    const skus = await products(5);
    const id = await lostCartId(skus);
    expect(await engine.restoreLostOrder(lost(id, skus, 2))).toEqual({ kind: 'restored', orderId: `ord_${id}` });
    for (const sku of skus) {
      expect(await stockOf(engine, sku)).toEqual({ total: 5, available: 3, reserved: 0, sold: 2 });
      expect(await recordAt(sku, id)).toMatchObject({ status: 'confirmed', orderId: `ord_${id}` });
      const events = await orderEvents(sku, id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ order: `ord_${id}`, lines: [{ sku, qty: 2, priceCents: 100 }] });
    }
    const home = partitionOfId(id, engine.settings.partitions);
    const [homeEvent] = await orderEvents(skus.find((s) => partitionOfSku(s) === home)!, id);
    expect(homeEvent).toMatchObject({ home: '', amount: 600, payment: `ch_${id}` });
    expect([...homeEvent!.parts].sort()).toEqual(skus.map(partitionOfSku).sort());

    expect(await engine.restoreLostOrder(lost(id, skus, 2))).toEqual({ kind: 'restored', orderId: `ord_${id}` });
    for (const sku of skus) {
      expect(await stockOf(engine, sku)).toEqual({ total: 5, available: 3, reserved: 0, sold: 2 });
      expect(await orderEvents(sku, id)).toHaveLength(1);
    }
  });

  it('a part whose units are gone gives back the parts restored before it, and changes nothing in all', async () => {
    const skus = await products(3);
    const id = await lostCartId(skus);
    const home = partitionOfId(id, engine.settings.partitions);
    // The home part is restored last: its units gone refuses the cart after the other parts held theirs.
    const homeSku = skus.find((s) => partitionOfSku(s) === home)!;
    const others = skus.filter((s) => s !== homeSku);
    const taken = await engine.reserve({ userId: 'y', items: [{ sku: homeSku, qty: 2 }] });
    expect(taken.kind).toBe('held');
    expect(await engine.restoreLostOrder(lost(id, skus, 2))).toEqual({ kind: 'units_gone', sku: homeSku, available: 1 });
    for (const sku of others) {
      expect(await stockOf(engine, sku)).toEqual({ total: 3, available: 3, reserved: 0, sold: 0 });
      expect(await recordAt(sku, id)).toMatchObject({ status: 'released', reason: 'compensated' });
      expect(await orderEvents(sku, id)).toHaveLength(0);
    }
    expect(await stockOf(engine, homeSku)).toEqual({ total: 3, available: 1, reserved: 2, sold: 0 });
    expect(await recordAt(homeSku, id)).toBeNull();
    // The refund repair makes then lands on the home part (no record): a refund event, and nothing sold.
    await engine.recordRefund(id, { amountCents: 600, reference: `re_${id}`, reason: 'units gone' });
    expect(await orderEvents(homeSku, id)).toHaveLength(0);
  });

  it('after a crash between parts (parts paying, no home) the next restore finishes the cart', async () => {
    const skus = await products(4);
    const id = await lostCartId(skus);
    const home = partitionOfId(id, engine.settings.partitions);
    const parts = [home, ...skus.map(partitionOfSku).filter((p) => p !== home).sort((x, y) => x - y)];
    const { ctx } = internalsOf(engine);
    for (const sku of skus.filter((s) => partitionOfSku(s) !== home)) {
      const out = await restoreCartPart(ctx, { reservationId: id, userId: 'u9', partition: partitionOfSku(sku),
        lines: [{ sku, qty: 1, priceCents: 100 }], home, parts });
      expect(out).toEqual({ kind: 'restored', status: 'paying' });
      expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 1, sold: 0 });
    }
    expect(await engine.restoreLostOrder(lost(id, skus, 1))).toEqual({ kind: 'restored', orderId: `ord_${id}` });
    for (const sku of skus) expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 0, sold: 1 });
  });

  it('after a crash before the commit (every part paying) every part is due in its paying index for the recovery', async () => {
    const skus = await products(4);
    const id = await lostCartId(skus);
    const home = partitionOfId(id, engine.settings.partitions);
    const parts = [home, ...skus.map(partitionOfSku).filter((p) => p !== home).sort((x, y) => x - y)];
    const { ctx } = internalsOf(engine);
    for (const sku of [...skus].sort((a, b) => (partitionOfSku(a) === home ? 1 : 0) - (partitionOfSku(b) === home ? 1 : 0))) {
      const p = partitionOfSku(sku);
      await restoreCartPart(ctx, { reservationId: id, userId: 'u9', partition: p, lines: [{ sku, qty: 1, priceCents: 100 }],
        home: p === home ? null : home, parts });
    }
    for (const sku of skus) expect(await dueIds(ctx, partitionOfSku(sku), 'paying', 100)).toContain(id);
    expect(await engine.getReservation(id)).toMatchObject({ status: 'paying' });
    // What the overdue recovery does once the provider answers captured: the saga's commit.
    expect(await engine.commit(id, { amountCents: 300, reference: `ch_${id}`, orderId: `ord_${id}` }))
      .toEqual({ kind: 'confirmed', orderId: `ord_${id}` });
    for (const sku of skus) expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 0, sold: 1 });
  });

  it('a cart that expired here (its payment\'s start lost) is restored; one the saga released after a void stands', async () => {
    const skus = await products(4);
    const expired = await engine.reserve({ userId: 'x', items: skus.map((sku) => ({ sku, qty: 1 })), ttlMs: 1_000 });
    if (expired.kind !== 'held') throw new Error(expired.kind);
    await advanceClock(engine, 2_000);
    await engine.sweepOnce();
    expect(await engine.getReservation(expired.reservation.id)).toMatchObject({ status: 'expired' });
    expect(await engine.restoreLostOrder(lost(expired.reservation.id, skus, 1)))
      .toEqual({ kind: 'restored', orderId: `ord_${expired.reservation.id}` });

    const voided = await engine.reserve({ userId: 'x', items: skus.map((sku) => ({ sku, qty: 1 })) });
    if (voided.kind !== 'held') throw new Error(voided.kind);
    expect((await engine.beginPayment(voided.reservation.id)).kind).toBe('paying');
    expect(await engine.release(voided.reservation.id, 'voided')).toEqual({ kind: 'released' });
    expect(await engine.restoreLostOrder(lost(voided.reservation.id, skus, 1))).toEqual({ kind: 'released' });
    for (const sku of skus) expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 0, sold: 1 });
  });

  it('racing buyers for the last units: never below zero, never sold twice, all parts or none (20 rounds)', async () => {
    for (let round = 0; round < 20; round++) {
      const skus = await products(3);
      const id = await lostCartId(skus);
      const buyers = Array.from({ length: 6 }, (_, i) => engine.reserve({ userId: `b${i}`, items: [{ sku: skus[i % 3]!, qty: 1 }] }));
      const [restored, ...held] = await Promise.all([engine.restoreLostOrder(lost(id, skus, 2)), ...buyers]);
      const stocks = await Promise.all(skus.map((sku) => stockOf(engine, sku)));
      for (const s of stocks) expect(conserved(s)).toBe(true);
      const heldPerSku = skus.map((_, i) => held.filter((h, j) => j % 3 === i && h.kind === 'held').length);
      if (restored.kind === 'restored') {
        stocks.forEach((s, i) => expect(s).toEqual({ total: 3, available: 1 - heldPerSku[i]!, reserved: heldPerSku[i], sold: 2 }));
      } else {
        expect(restored.kind).toBe('units_gone');
        stocks.forEach((s, i) => expect(s).toEqual({ total: 3, available: 3 - heldPerSku[i]!, reserved: heldPerSku[i], sold: 0 }));
      }
    }
  });
});

describe('completing an order that lacks a part', () => {
  it('sells the part again under the order\'s id and appends its event; a part still held is taken as it stands', async () => {
    const skus = await products(4);
    const held = await engine.reserve({ userId: 'x', items: skus.map((sku) => ({ sku, qty: 1 })) });
    if (held.kind !== 'held') throw new Error(held.kind);
    const id = held.reservation.id;
    const home = partitionOfId(id, engine.settings.partitions);
    const [lostSku, heldSku] = skus.filter((s) => partitionOfSku(s) !== home);
    // The home part's order reached PostgreSQL; this Redis lost one part's sale (no record, units back) and has the other as held.
    const { ctx } = internalsOf(engine);
    await ctx.redis.multi().hdel(ctx.keys.partition(partitionOfSku(lostSku!)).holds, id)
      .hincrby(ctx.keys.partition(partitionOfSku(lostSku!)).skus, `${lostSku}:r`, -1)
      .hincrby(ctx.keys.partition(partitionOfSku(lostSku!)).skus, `${lostSku}:a`, 1).exec();
    const part = (sku: string) => ({ reservationId: id, orderId: `ord_${id}`, userId: 'x', partition: partitionOfSku(sku), home,
      parts: [], lines: [{ sku, qty: 1, priceCents: 100 }], amountCents: 300, reference: `ch_${id}` });
    for (const sku of [lostSku!, heldSku!]) {
      expect(await engine.completeOrderPart(part(sku))).toEqual({ kind: 'restored', orderId: `ord_${id}` });
      expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 0, sold: 1 });
      expect(await recordAt(sku, id)).toMatchObject({ status: 'confirmed', orderId: `ord_${id}`, home: String(home) });
      expect(await orderEvents(sku, id)).toEqual([expect.objectContaining({ order: `ord_${id}`, home: String(home) })]);
      // A repeat sells nothing more.
      expect(await engine.completeOrderPart(part(sku))).toEqual({ kind: 'restored', orderId: `ord_${id}` });
      expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 0, sold: 1 });
    }
  });
});

describe('confirmRecord (a fenced partition\'s holds whose orders PostgreSQL has)', () => {
  it('is refused in a partition not fenced; in a fenced one records missing and live holds confirmed without moving a count', async () => {
    const skus = await products(4);
    const sku = skus[0]!;
    const p = partitionOfSku(sku);
    const held = await engine.reserve({ userId: 'x', items: [{ sku, qty: 2 }] });
    if (held.kind !== 'held') throw new Error(held.kind);
    const id = held.reservation.id;
    expect((await engine.beginPayment(id)).kind).toBe('paying');
    const part = (rid: string) => ({ reservationId: rid, orderId: `ord_${rid}`, userId: 'x', partition: p, home: null, parts: [],
      lines: [{ sku, qty: 2, priceCents: 100 }] });
    expect(await engine.confirmRecord(part(id))).toEqual({ kind: 'not_fenced' });
    expect(await recordAt(sku, id)).toMatchObject({ status: 'paying' });

    const { ctx } = internalsOf(engine);
    const meta = ctx.keys.partition(p).meta;
    const before = await stockOf(engine, sku);
    await ctx.redis.hset(meta, 'fenced', 'behind');
    try {
      expect(await engine.confirmRecord(part(id))).toEqual({ kind: 'confirmed', orderId: `ord_${id}` });
      expect(await recordAt(sku, id)).toMatchObject({ status: 'confirmed', orderId: `ord_${id}` });
      expect(await dueIds(ctx, p, 'paying', 100)).not.toContain(id);
      const missing = `${p}.lostlostlostlostlostlostlo`;
      expect(await engine.confirmRecord(part(missing))).toEqual({ kind: 'confirmed', orderId: `ord_${missing}` });
      expect(await recordAt(sku, missing)).toMatchObject({ status: 'confirmed', userId: 'x', lines: [{ sku, qty: 2, priceCents: 100 }] });
      expect(await engine.confirmRecord(part(id))).toEqual({ kind: 'confirmed', orderId: `ord_${id}` });
      // No count moved: repair sets them to PostgreSQL's next.
      expect(await engine.partitionSnapshot(p).then((s) => s.stock.get(sku))).toEqual(before);
    } finally {
      await ctx.redis.hdel(meta, 'fenced');
    }
  });
});
