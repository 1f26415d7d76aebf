import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../index.ts';
import { advanceClock, confirmOrder, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';
import { partitionOf } from '../redis/partition.ts';
import { internalsOf } from '../engine.ts';

// The reconciler's steps over Redis: one test per outcome code of restoreOrder
// and resetCounts, the snapshot and the overdue holds, against a real Redis.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine()));
afterAll(() => close());

async function product(stock: number): Promise<string> {
  const [sku] = skusInOnePartition(engine, `au${++n}`, 1);
  expect((await engine.createProduct({ sku: sku!, name: 'p', priceCents: 100, stock })).kind).toBe('created');
  return sku!;
}

/** A reservation id of the SKU's partition that Redis has no record of (as after a lost second). */
async function lostId(sku: string): Promise<string> {
  const held = await engine.reserve({ userId: 'x', items: [{ sku, qty: 1 }] });
  if (held.kind !== 'held') throw new Error(held.kind);
  const id = held.reservation.id;
  await engine.release(id);
  const { ctx } = internalsOf(engine);
  await ctx.redis.hdel(ctx.keys.partition(partitionOf(sku, engine.settings.partitions)).holds, id);
  return id;
}

const lost = (id: string, sku: string, qty: number) => ({ reservationId: id, userId: 'u9', amountCents: qty * 100, reference: `ch_${id}`,
  lines: [{ sku, qty, priceCents: 100 }] });

describe('restoreOrder', () => {
  it('1: moves the units available -> sold with a confirmed record and the order event; a repeat changes nothing', async () => {
    const sku = await product(5);
    const id = await lostId(sku);
    const first = await engine.restoreLostOrder(lost(id, sku, 2));
    expect(first).toMatchObject({ kind: 'restored', orderId: expect.any(String) });
    expect(await engine.restoreLostOrder(lost(id, sku, 2))).toEqual(first);
    expect(await stockOf(engine, sku)).toEqual({ total: 5, available: 3, reserved: 0, sold: 2 });
    expect(await engine.getReservation(id)).toMatchObject({ status: 'confirmed', userId: 'u9', totalCents: 200 });
    const snap = await engine.partitionSnapshot(partitionOf(sku, engine.settings.partitions));
    const orders = snap.outbox.filter((e) => e.event?.t === 'order' && e.event.id === id);
    expect(orders.map((e) => e.event)).toEqual([expect.objectContaining({ order: (first as { orderId: string }).orderId, user: 'u9',
      home: '', parts: [], amount: 200, payment: `ch_${id}`, lines: [{ sku, qty: 2, priceCents: 100 }] })]);
  });
  it('-21: units no longer available: nothing changes', async () => {
    const sku = await product(1);
    const id = await lostId(sku);
    expect(await engine.restoreLostOrder(lost(id, sku, 2))).toEqual({ kind: 'units_gone', sku, available: 1 });
    expect(await stockOf(engine, sku)).toEqual({ total: 1, available: 1, reserved: 0, sold: 0 });
    expect(await engine.getReservation(id)).toBeNull();
  });
  it('-3: a line of no product', async () => {
    const [sku, none] = skusInOnePartition(engine, `np${++n}`, 2);
    await engine.createProduct({ sku: sku!, name: 'p', priceCents: 100, stock: 1 });
    const id = await lostId(sku!);
    expect(await engine.restoreLostOrder({ ...lost(id, sku!, 1), lines: [{ sku: none!, qty: 1, priceCents: 1 }] }))
      .toEqual({ kind: 'no_product', sku: none });
  });
  it('status codes: a record that stands in another state is answered, not overwritten', async () => {
    const sku = await product(3);
    const held = await engine.reserve({ userId: 'x', items: [{ sku, qty: 1 }] });
    if (held.kind !== 'held') throw new Error(held.kind);
    expect(await engine.restoreLostOrder(lost(held.reservation.id, sku, 1))).toEqual({ kind: 'payment_not_begun' });
    expect(await stockOf(engine, sku)).toEqual({ total: 3, available: 2, reserved: 1, sold: 0 });
  });
  it('1 over a hold that ended without its payment here (expired, or released by its buyer: Redis lost its start), under the given order id', async () => {
    const sku = await product(4);
    const expiring = await engine.reserve({ userId: 'u9', items: [{ sku, qty: 1 }], ttlMs: 1_000 });
    const released = await engine.reserve({ userId: 'u9', items: [{ sku, qty: 1 }] });
    if (expiring.kind !== 'held' || released.kind !== 'held') throw new Error('not held');
    await engine.release(released.reservation.id);
    await advanceClock(engine, 2_000);
    await engine.sweepOnce();
    expect((await engine.getReservation(expiring.reservation.id))?.status).toBe('expired');
    for (const [id, orderId] of [[expiring.reservation.id, 'oexpiredexpiredexpiredexp'], [released.reservation.id, 'oreleasedreleasedreleased']] as const) {
      expect(await engine.restoreLostOrder({ ...lost(id, sku, 1), orderId })).toEqual({ kind: 'restored', orderId });
      expect(await engine.getReservation(id)).toMatchObject({ status: 'confirmed', orderId });
    }
    expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 2, reserved: 0, sold: 2 });
  });
  it('a hold the saga released after voiding its charge stands (that capture is refunded, not sold)', async () => {
    const sku = await product(2);
    const held = await engine.reserve({ userId: 'x', items: [{ sku, qty: 1 }] });
    if (held.kind !== 'held') throw new Error(held.kind);
    expect((await engine.beginPayment(held.reservation.id)).kind).toBe('paying');
    expect(await engine.release(held.reservation.id, 'voided')).toEqual({ kind: 'released' });
    expect(await engine.restoreLostOrder(lost(held.reservation.id, sku, 1))).toEqual({ kind: 'released' });
    expect(await stockOf(engine, sku)).toEqual({ total: 2, available: 2, reserved: 0, sold: 0 });
  });
});

describe('resetCounts', () => {
  it('1: sets available and reserved when the counts are still the ones read', async () => {
    const sku = await product(4);
    const read = await stockOf(engine, sku);
    expect(await engine.resetCounts(sku, read, { available: 3, reserved: 1 })).toEqual({ kind: 'set' });
    expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 1, sold: 0 });
  });
  it('-22: the counts moved since they were read: nothing set', async () => {
    const sku = await product(4);
    const read = await stockOf(engine, sku);
    await engine.reserve({ userId: 'x', items: [{ sku, qty: 1 }] });
    expect(await engine.resetCounts(sku, read, { available: 4, reserved: 0 })).toEqual({ kind: 'changed' });
    expect(await stockOf(engine, sku)).toEqual({ total: 4, available: 3, reserved: 1, sold: 0 });
  });
  it('-3: no such sku', async () => {
    expect(await engine.resetCounts('no-such-sku', { total: 0, available: 0, reserved: 0, sold: 0 }, { available: 0, reserved: 0 }))
      .toEqual({ kind: 'not_found' });
  });
});

describe('snapshot, reserved by holds, overdue holds', () => {
  it('reads counts and undrained events together, and the holds that reserve units', async () => {
    const sku = await product(6);
    await confirmOrder(engine, 'u1', [{ sku, qty: 2 }]);
    await engine.reserve({ userId: 'u2', items: [{ sku, qty: 1 }] });
    const p = partitionOf(sku, engine.settings.partitions);
    const snap = await engine.partitionSnapshot(p);
    expect(snap.stock.get(sku)).toEqual({ total: 6, available: 3, reserved: 1, sold: 2 });
    expect(snap.outbox.map((e) => e.event?.t)).toEqual(expect.arrayContaining(['product', 'order']));
    expect(snap.lastEventId).toBe(snap.outbox.at(-1)!.streamId);
    expect(snap.truncated).toBe(false);
    expect((await engine.reservedByHolds(p)).get(sku)).toBe(1);
  });
  it('names a hold past its deadline by more than the lateness asked, and a payment past its deadline', async () => {
    const { engine: own, close: closeOwn } = testEngine();
    try {
      const [sku] = skusInOnePartition(own, 'late', 1);
      await own.createProduct({ sku: sku!, name: 'p', priceCents: 1, stock: 5 });
      const held = await own.reserve({ userId: 'u', items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 });
      const paying = await own.reserve({ userId: 'v', items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 });
      if (held.kind !== 'held' || paying.kind !== 'held') throw new Error('not held');
      expect((await own.beginPayment(paying.reservation.id)).kind).toBe('paying');
      const p = partitionOf(sku!, own.settings.partitions);
      expect(await own.overdueHolds(p, 1_000)).toEqual([]);
      await advanceClock(own, Math.max(own.settings.paymentWindowMs, 1_000) + 5_000);
      const late = await own.overdueHolds(p, 1_000);
      expect(late.map((h) => [h.reservationId, h.status]).sort()).toEqual([[held.reservation.id, 'held'], [paying.reservation.id, 'paying']].sort());
      await own.sweepOnce();
      expect((await own.overdueHolds(p, 1_000)).map((h) => h.status)).toEqual(['paying']);
    } finally {
      await closeOwn();
    }
  });
});
