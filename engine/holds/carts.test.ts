import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, partitionOf } from '../index.ts';
import { internalsOf } from '../engine.ts';
import { fingerprints } from '../idempotency/claims.ts';
import { advanceClock, skusInDistinctPartitions, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';

// Carts whose lines span partitions: reserved part by part, all or nothing.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine({ cartReplayWaitMs: 200, keyShards: 1 })));
afterAll(() => close());

/** Three SKUs in three different partitions, with the given stock. */
async function spread(stocks: [number, number, number]): Promise<string[]> {
  const skus = skusInDistinctPartitions(engine, `cart${++n}`, 3);
  for (const [i, sku] of skus.entries()) {
    await engine.createProduct({ sku, name: sku, priceCents: 100 * (i + 1), stock: stocks[i]! });
  }
  return skus;
}

const cart = (skus: string[], qty = 1) => skus.map((sku) => ({ sku, qty }));

describe('multi-partition carts', () => {
  it('holds every line in its own partition and prices the whole cart', async () => {
    const skus = await spread([5, 5, 5]);
    const out = await engine.reserve({ userId: 'u', items: cart(skus, 2) });
    if (out.kind !== 'held') throw new Error(JSON.stringify(out));
    expect(out.reservation.totalCents).toBe(2 * (100 + 200 + 300));
    expect(out.reservation.items.map((i) => i.sku).sort()).toEqual([...skus].sort());
    for (const sku of skus) expect(await stockOf(engine, sku)).toEqual({ total: 5, available: 3, reserved: 2, sold: 0 });
    expect(await engine.getReservation(out.reservation.id)).toEqual(out.reservation);
  });

  it('rolls back every part when one line is out of stock, and says which', async () => {
    const skus = await spread([5, 5, 1]);
    for (const order of [skus, [...skus].reverse()]) {
      const out = await engine.reserve({ userId: 'u', items: cart(order, 2) });
      expect(out).toEqual({ kind: 'out_of_stock', sku: skus[2], available: 1 });
      for (const [i, sku] of skus.entries()) {
        expect(await stockOf(engine, sku)).toEqual({ total: [5, 5, 1][i], available: [5, 5, 1][i], reserved: 0, sold: 0 });
      }
    }
  });

  it('a replay of a failed cart gets the same refusal; of a held cart, the same hold', async () => {
    const skus = await spread([5, 5, 0]);
    const failing = { userId: 'u', items: cart(skus), idempotencyKey: `fail-${n}` };
    const refused = await engine.reserve(failing);
    expect(refused.kind).toBe('out_of_stock');
    await engine.adjustStock(skus[2]!, 10);
    expect(await engine.reserve(failing)).toEqual({ kind: 'duplicate', of: refused });
    expect((await stockOf(engine, skus[0]!)).reserved).toBe(0);

    const ok = { userId: 'u', items: cart(skus), idempotencyKey: `ok-${n}` };
    const first = await engine.reserve(ok);
    expect(first.kind).toBe('held');
    expect(await engine.reserve(ok)).toEqual({ kind: 'duplicate', of: first });
    expect((await stockOf(engine, skus[0]!)).reserved).toBe(1);
  });

  it('confirms across partitions: every part sold, one outbox event per part', async () => {
    const skus = await spread([5, 5, 5]);
    const out = await engine.reserve({ userId: 'u', items: cart(skus) });
    if (out.kind !== 'held') throw new Error(JSON.stringify(out));
    const id = out.reservation.id;
    const begun = await engine.beginPayment(id);
    expect(begun).toMatchObject({ kind: 'paying', totalCents: 600 });
    // The reservation the charge is made for comes with the answer: every part's lines, as a read gives them.
    const read = await engine.getReservation(id);
    expect(begun.kind === 'paying' && begun.reservation).toEqual({ ...read, status: 'paying' });
    expect(read?.items.map((l) => l.sku).sort()).toEqual([...skus].sort());
    const committed = await engine.commit(id, { amountCents: 600, reference: 'ch' });
    expect(committed).toEqual({ kind: 'confirmed', orderId: expect.stringMatching(/^o[a-z2-7]{24}$/) });
    for (const sku of skus) expect(await stockOf(engine, sku)).toEqual({ total: 5, available: 4, reserved: 0, sold: 1 });
    for (const sku of skus) {
      const outbox = internalsOf(engine).ctx.keys.partition(partitionOf(sku, engine.settings.partitions)).outbox;
      const events = await internalsOf(engine).ctx.redis.xrange(outbox, '-', '+');
      expect(events.length).toBe(2); // the product, then the order part
    }
    expect((await engine.getReservation(id))?.status).toBe('confirmed');
  });

  it('releases and expires every part', async () => {
    const skus = await spread([5, 5, 5]);
    const a = await engine.reserve({ userId: 'u', items: cart(skus) });
    const b = await engine.reserve({ userId: 'u', items: cart(skus), ttlMs: 1_000 });
    if (a.kind !== 'held' || b.kind !== 'held') throw new Error('expected holds');
    expect(await engine.release(a.reservation.id)).toEqual({ kind: 'released' });
    for (const sku of skus) expect((await stockOf(engine, sku)).reserved).toBe(1);
    await advanceClock(engine, 1_000);
    await engine.sweepOnce();
    for (const sku of skus) expect(await stockOf(engine, sku)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
  });

  it('a replay while the first request is still reserving waits, then says in progress', async () => {
    const [sku] = skusInOnePartition(engine, `pend${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 'p', priceCents: 1, stock: 5 });
    const p = partitionOf(sku!, engine.settings.partitions);
    const k = internalsOf(engine).ctx.keys.partition(p);
    const id = `${p}.stuckstuckstuck`;
    // A home part left pending, as a process that crashed mid-cart leaves it.
    await internalsOf(engine).ctx.scripts.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
      0, 64, 60_000, 1, 1e6, id, 'u', 60_000, 'p1', `${p}`, 1, sku!, 1);
    const claims = internalsOf(engine).ctx.keys.shard(0);
    const request = { userId: 'u', items: [{ sku: sku!, qty: 1 }], idempotencyKey: 'stuck-key' };
    await internalsOf(engine).ctx.redis.hset(claims.claims, 'stuck-key', `${fingerprints.reserve(request)} ${id}`);
    const started = Date.now();
    const out = await engine.reserve(request);
    expect(out).toEqual({ kind: 'duplicate', of: { kind: 'in_progress' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await engine.getReservation(id)).toBeNull(); // never shown to clients while pending
  });
});
