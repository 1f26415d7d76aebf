import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../index.ts';
import { advanceClock, skusInDistinctPartitions, testEngine } from '../../test/support/engine.ts';
import { loadScripts } from './script-loader.ts';
import { keySlot } from './slot.ts';

// Redis Cluster runs a script only when every key it names lives in one hash
// slot (a cross-slot call fails there, and on one node succeeds silently until
// a reshard). Every script call the engine makes is recorded through the test
// hooks, and the CRC16 slot of each key it passes is checked, over a workload
// that reaches (nearly) every script.
const calls: { name: string; args: readonly (string | number)[] }[] = [];
let engine: Engine;
let close: () => Promise<void>;

beforeAll(() => ({ engine, close } = testEngine({ keyShards: 4 }, { beforeScript: (name, args) => { calls.push({ name, args }); } })));
afterAll(() => close());

describe('keySlot', () => {
  it('is CLUSTER KEYSLOT (values read from redis-server 7.0)', () => {
    expect(keySlot('somekey')).toBe(11_058);
    expect(keySlot('foo')).toBe(12_182);
    expect(keySlot('{user1000}.following')).toBe(3_443);
    expect(keySlot('user1000')).toBe(3_443);
    expect(keySlot('a{}b')).toBe(13_694); // an empty tag is no tag
    expect(keySlot('{}x')).toBe(10_595);
    expect(keySlot('{p:17}:holds')).toBe(12_289);
    expect(keySlot('stk:{p:3}:meta')).toBe(13_414);
  });
});

describe('every script call names keys of one slot', () => {
  it('over products, holds, carts, keys, payments, releases, expiry, stock changes and restores', async () => {
    const skus = skusInDistinctPartitions(engine, 'slot', 3);
    for (const sku of skus) expect((await engine.createProduct({ sku, name: sku, priceCents: 100, stock: 10 })).kind).toBe('created');
    const single = await engine.reserve({ userId: 'u1', items: [{ sku: skus[0]!, qty: 1 }], idempotencyKey: 'slot-k1' });
    const cart = await engine.reserve({ userId: 'u2', items: skus.map((sku) => ({ sku, qty: 1 })), idempotencyKey: 'slot-k2' });
    if (single.kind !== 'held' || cart.kind !== 'held') throw new Error(`${single.kind} ${cart.kind}`);
    for (const id of [single.reservation.id, cart.reservation.id]) {
      expect((await engine.beginPayment(id)).kind).toBe('paying');
      expect((await engine.commit(id, { amountCents: 100, reference: `ch_${id}` })).kind).toBe('confirmed');
    }
    expect(await engine.getReservation(cart.reservation.id)).toMatchObject({ status: 'confirmed' });
    await engine.hitRateLimit('u1', 10, 1_000);
    const released = await engine.reserve({ userId: 'u3', items: skus.map((sku) => ({ sku, qty: 1 })) });
    if (released.kind !== 'held') throw new Error(released.kind);
    expect(await engine.release(released.reservation.id)).toEqual({ kind: 'released' });
    expect((await engine.adjustStock(skus[1]!, 5)).kind).toBe('adjusted');
    await engine.reserve({ userId: 'u4', items: [{ sku: skus[2]!, qty: 1 }], ttlMs: 1_000 });
    await advanceClock(engine, 2_000);
    await engine.sweepOnce();
    await engine.restoreLostOrder({ reservationId: released.reservation.id, userId: 'u3', amountCents: 300, reference: 'r',
      lines: skus.map((sku) => ({ sku, qty: 1, priceCents: 100 })) });

    const keyCounts = new Map(loadScripts().map((s) => [s.name, s.numberOfKeys]));
    const crossing: string[] = [];
    for (const c of calls) {
      const keys = c.args.slice(0, keyCounts.get(c.name) ?? 0).map(String);
      expect(keys.length, c.name).toBeGreaterThan(0);
      const slots = new Set(keys.map(keySlot));
      if (slots.size > 1) crossing.push(`${c.name}: ${keys.join(' ')}`);
    }
    expect(crossing).toEqual([]);
    const used = new Set(calls.map((c) => c.name));
    for (const name of ['createProduct', 'reserveHolds', 'activateCart', 'claimKeys', 'beginPayment', 'commitHold', 'releaseHold',
      'adjustStock', 'expireHolds', 'restoreCartPart', 'readHold', 'hitRateLimit']) expect(used, name).toContain(name);
    // The check can fail: two partitions' keys are in two slots.
    const partitionKeys = skus.map((sku) => calls.find((c) => c.name === 'createProduct' && c.args.includes(sku))!.args[0]);
    expect(new Set(partitionKeys.map((k) => keySlot(String(k)))).size).toBe(3);
  });
});
