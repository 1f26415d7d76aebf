import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine/engine.ts';
import { advanceClock, conserved, skusInOnePartition, stockOf, testEngine } from './support/engine.ts';

// Invariant T: every hold ends confirmed, released or expired, and expired units
// come back within TTL + sweep interval even when no sweeper runs.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine()));
afterAll(() => close());

describe('expiry', () => {
  it('the hot path alone returns every expired unit of its partition, a bounded step per call', async () => {
    const [hot, other] = skusInOnePartition(engine, `ex${n++}`, 2);
    await engine.createProduct({ sku: hot!, name: 'hot', priceCents: 1, stock: 300 });
    await engine.createProduct({ sku: other!, name: 'other', priceCents: 1, stock: 1_000 });
    // 30 reserve calls of 10 concurrent holds each: 30 due groups.
    for (let call = 0; call < 30; call++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) =>
        engine.reserve({ userId: `u${call}-${i}`, items: [{ sku: hot!, qty: 1 }], ttlMs: 5_000 })));
    }
    expect((await stockOf(engine, hot!)).available).toBe(0);
    await advanceClock(engine, 5_000);
    let calls = 0;
    while ((await stockOf(engine, hot!)).reserved > 0) {
      await engine.reserve({ userId: 'walker', items: [{ sku: other!, qty: 1 }], ttlMs: 60_000 });
      calls += 1;
      expect(calls).toBeLessThan(30); // at most reclaimGroupsMax groups per call, so a few calls
    }
    expect(calls).toBeGreaterThan(1);
    expect(await stockOf(engine, hot!)).toEqual({ total: 300, available: 300, reserved: 0, sold: 0 });
  });

  it('the sweeper returns them in quiet partitions; expired holds cannot be paid for or released', async () => {
    const [sku] = skusInOnePartition(engine, `sw${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 's', priceCents: 1, stock: 10, perUserLimit: 5 });
    const outs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      engine.reserve({ userId: `u${i % 2}`, items: [{ sku: sku!, qty: 1 }], ttlMs: 10_000 })));
    const ids = outs.flatMap((o) => (o.kind === 'held' ? [o.reservation.id] : []));
    expect(ids).toHaveLength(10);
    await advanceClock(engine, 9_000); // a second of margin for real time passing
    await engine.sweepOnce();
    expect((await stockOf(engine, sku!)).reserved).toBe(10); // not yet
    await advanceClock(engine, 1_000);
    await engine.sweepOnce();
    expect(await stockOf(engine, sku!)).toEqual({ total: 10, available: 10, reserved: 0, sold: 0 });
    for (const id of ids) {
      expect((await engine.getReservation(id))?.status).toBe('expired');
      expect(await engine.beginPayment(id)).toEqual({ kind: 'expired' });
      expect(await engine.release(id)).toEqual({ kind: 'expired' });
    }
    // The per-user allowance came back with the units.
    const again = await engine.reserve({ userId: 'u0', items: [{ sku: sku!, qty: 5 }] });
    expect(again.kind).toBe('held');
  });

  it('a hold released, then due, is not expired twice; C holds throughout', async () => {
    const [sku] = skusInOnePartition(engine, `tw${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 's', priceCents: 1, stock: 4 });
    const a = await engine.reserve({ userId: 'u', items: [{ sku: sku!, qty: 2 }], ttlMs: 1_000 });
    const b = await engine.reserve({ userId: 'u', items: [{ sku: sku!, qty: 2 }], ttlMs: 1_000 });
    if (a.kind !== 'held' || b.kind !== 'held') throw new Error('expected holds');
    await engine.release(a.reservation.id);
    await engine.beginPayment(b.reservation.id);
    await engine.commit(b.reservation.id, { amountCents: 2, reference: 'r' });
    await advanceClock(engine, 10_000);
    await engine.sweepOnce();
    const stock = await stockOf(engine, sku!);
    expect(stock).toEqual({ total: 4, available: 2, reserved: 0, sold: 2 });
    expect(conserved(stock)).toBe(true);
    expect((await engine.getReservation(a.reservation.id))?.status).toBe('released');
    expect((await engine.getReservation(b.reservation.id))?.status).toBe('confirmed');
  });
});
