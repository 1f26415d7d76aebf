import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, partitionOf } from '../index.ts';
import { internalsOf } from '../engine.ts';
import { advanceClock, conserved, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';

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
      expect(calls).toBeLessThan(30); // at most reclaimWorkMax work per call, so a few calls
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

  it('a request is never refused while due holds of its SKU could satisfy it (40 holds in 40 calls, no sweeper)', async () => {
    const [sku] = skusInOnePartition(engine, `tg${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 't', priceCents: 1, stock: 40 });
    for (let call = 0; call < 40; call++) {
      expect((await engine.reserve({ userId: `u${call}`, items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 })).kind).toBe('held');
    }
    await advanceClock(engine, 1_000);
    const big = await engine.reserve({ userId: 'big', items: [{ sku: sku!, qty: 40 }] });
    expect(big.kind, JSON.stringify(big)).toBe('held');
    expect(await stockOf(engine, sku!)).toEqual({ total: 40, available: 0, reserved: 40, sold: 0 });
  });

  it('nor refused over the per-user limit while the user\'s own due holds would make room', async () => {
    const [sku] = skusInOnePartition(engine, `tu${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 't', priceCents: 1, stock: 100, perUserLimit: 10 });
    for (let call = 0; call < 10; call++) {
      expect((await engine.reserve({ userId: 'same', items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 })).kind).toBe('held');
    }
    await advanceClock(engine, 1_000);
    const again = await engine.reserve({ userId: 'same', items: [{ sku: sku!, qty: 10 }] });
    expect(again.kind, JSON.stringify(again)).toBe('held');
    expect(await stockOf(engine, sku!)).toEqual({ total: 100, available: 90, reserved: 10, sold: 0 });
  });

  it('more due holds than one call may reclaim: the request is sent again until it holds, each call bounded', async () => {
    const { engine: small, close: closeSmall } = testEngine({ reclaimWorkMax: 2, reclaimSkuWorkMax: 16 });
    try {
      const [sku, other] = skusInOnePartition(small, `tb${n++}`, 2);
      await small.createProduct({ sku: sku!, name: 't', priceCents: 1, stock: 200 });
      await small.createProduct({ sku: other!, name: 'o', priceCents: 1, stock: 200 });
      for (let call = 0; call < 200; call++) {
        // Holds of two SKUs in each group: reclaiming one SKU's holds returns the other's units too.
        await small.reserve({ userId: `u${call}`, items: [{ sku: sku!, qty: 1 }, { sku: other!, qty: 1 }], ttlMs: 1_000 });
      }
      await advanceClock(small, 1_000);
      const big = await small.reserve({ userId: 'big', items: [{ sku: sku!, qty: 200 }] });
      expect(big.kind, JSON.stringify(big)).toBe('held');
      expect(await stockOf(small, sku!)).toEqual({ total: 200, available: 0, reserved: 200, sold: 0 });
      expect(await stockOf(small, other!)).toEqual({ total: 200, available: 200, reserved: 0, sold: 0 });
    } finally {
      await closeSmall();
    }
  });

  it('one due group larger than a call\'s work budget is expired in parts, each call bounded, its rest left indexed', async () => {
    let calls = 0;
    const { engine: small, close: closeSmall } = testEngine({ reclaimWorkMax: 0, reclaimSkuWorkMax: 20, batchSizeMax: 1024 },
      { afterScript: (name) => { if (name === 'reserveHolds') calls += 1; } });
    try {
      const [sku] = skusInOnePartition(small, `tw${n++}`, 1);
      await small.createProduct({ sku: sku!, name: 't', priceCents: 1, stock: 100 });
      // 100 holds in one reserve call: one due group.
      await Promise.all(Array.from({ length: 100 }, (_, i) => small.reserve({ userId: `u${i}`, items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 })));
      expect(calls).toBe(1);
      await advanceClock(small, 1_000);
      const k = internalsOf(small).ctx.keys.partition(partitionOf(sku!, small.settings.partitions));
      const big = await small.reserve({ userId: 'big', items: [{ sku: sku!, qty: 100 }] });
      expect(big.kind, JSON.stringify(big)).toBe('held');
      // A record read and a line moved per hold: 2 units; 20 per call, so at least 10 calls.
      expect(calls - 1).toBeGreaterThanOrEqual(10);
      expect(await stockOf(small, sku!)).toEqual({ total: 100, available: 0, reserved: 100, sold: 0 });
      // The big hold's own entry is all that is left in the index.
      expect(await internalsOf(small).ctx.redis.zcard(k.dueHolds)).toBe(1);
    } finally {
      await closeSmall();
    }
  });

  it('holds indexed the old way (before the index by SKU) are expired by the sweeper: an upgrade strands none', async () => {
    const [sku] = skusInOnePartition(engine, `tl${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 't', priceCents: 1, stock: 3 });
    const outs = await Promise.all([0, 1, 2].map((i) => engine.reserve({ userId: `u${i}`, items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 })));
    const ids = outs.map((o) => (o.kind === 'held' ? o.reservation : null)!);
    // As the previous release left them: one comma-joined group in {p:N}:due, scored by the deadline; nothing in the new index.
    const k = internalsOf(engine).ctx.keys.partition(partitionOf(sku!, engine.settings.partitions));
    await internalsOf(engine).ctx.redis.zrem(k.due, sku!);
    await internalsOf(engine).ctx.redis.zremrangebylex(k.dueHolds, `[${sku}\x1f`, `(${sku} `);
    await internalsOf(engine).ctx.redis.zadd(k.legacyDue, ids[0]!.expiresAtMs, ids.map((r) => r.id).join(','));
    await advanceClock(engine, 1_000);
    expect((await engine.sweepOnce()).expired).toBe(3);
    expect(await stockOf(engine, sku!)).toEqual({ total: 3, available: 3, reserved: 0, sold: 0 });
    expect(await internalsOf(engine).ctx.redis.zcard(k.legacyDue)).toBe(0);
  });

  it('a hold past its deadline reads expired and cannot be confirmed, before any sweep', async () => {
    const [sku] = skusInOnePartition(engine, `tr${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 't', priceCents: 1, stock: 1 });
    const held = await engine.reserve({ userId: 'u', items: [{ sku: sku!, qty: 1 }], ttlMs: 1_000 });
    if (held.kind !== 'held') throw new Error(held.kind);
    await advanceClock(engine, 1_000);
    expect((await engine.getReservation(held.reservation.id))?.status).toBe('expired');
    expect(await engine.beginPayment(held.reservation.id)).toEqual({ kind: 'expired' });
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
