import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalsOf, type Engine } from '../engine.ts';
import { partitionOf } from './partition.ts';
import { decodeRecord } from './records.ts';
import { advanceClock, skusInDistinctPartitions, skusInOnePartition, testEngine } from '../../test/support/engine.ts';
import type { HoldCounts } from './hold-counts.ts';

// Holds by state and expiries, counted by the scripts in each partition's meta
// hash (lua/includes/counts.lua): after every kind of move a hold can make,
// the counts equal a recount of the records themselves.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine({ partitions: 8, keyShards: 1, cartReplayWaitMs: 200 })));
afterAll(() => close());

/** Live holds by state, recounted from every partition's records: home parts made since counting began. */
async function recount(e: Engine): Promise<HoldCounts['live']> {
  const { redis, keys, settings } = internalsOf(e).ctx;
  const live = { held: 0, pending: 0, paying: 0 };
  for (let p = 0; p < settings.partitions; p++) {
    const since = Number(await redis.hget(keys.partition(p).meta, 'holds_since'));
    if (!since) continue;
    for (const [id, raw] of Object.entries(await redis.hgetall(keys.partition(p).holds))) {
      if (id.startsWith('op:')) continue;
      const r = decodeRecord(raw);
      if (r.home === '' && r.createdAtMs >= since && r.status in live) live[r.status as keyof typeof live] += 1;
    }
  }
  return live;
}

async function product(sku: string, stock: number): Promise<string> {
  await engine.createProduct({ sku, name: sku, priceCents: 100, stock });
  return sku;
}

async function held(items: { sku: string; qty: number }[], ttlMs = 60_000): Promise<string> {
  const out = await engine.reserve({ userId: `u${++n}`, items, ttlMs });
  if (out.kind !== 'held') throw new Error(`not held: ${JSON.stringify(out)}`);
  return out.reservation.id;
}

const pay = { amountCents: 100, reference: 'ch_1' };

describe('holds by state, counted by the scripts', () => {
  it('every move a hold makes: counts equal a recount of the records, expiries by who expired them', async () => {
    const before = await engine.holdCounts();
    expect(before).toEqual({ live: { held: 0, pending: 0, paying: 0 }, expired: { reserve: 0, sweeper: 0, access: 0 } });
    const [a, b] = skusInOnePartition(engine, 'hc', 2) as [string, string];
    await product(a, 100);
    await product(b, 100);
    const singles = await Promise.all(Array.from({ length: 10 }, () => held([{ sku: a, qty: 1 }])));
    expect((await engine.holdCounts()).live).toEqual({ held: 10, pending: 0, paying: 0 });

    // held -> paying -> confirmed; paying -> released (declined); held -> released; a repeat moves nothing.
    for (const id of singles.slice(0, 4)) expect((await engine.beginPayment(id)).kind).toBe('paying');
    expect((await engine.beginPayment(singles[0]!)).kind).toBe('paying');
    expect((await engine.holdCounts()).live).toEqual({ held: 6, pending: 0, paying: 4 });
    expect((await engine.commit(singles[0]!, pay)).kind).toBe('confirmed');
    expect((await engine.commit(singles[0]!, pay)).kind).toBe('confirmed');
    expect((await engine.release(singles[1]!, 'declined')).kind).toBe('released');
    expect((await engine.release(singles[4]!)).kind).toBe('released');
    expect((await engine.release(singles[4]!)).kind).toBe('released');
    expect((await engine.holdCounts()).live).toEqual({ held: 5, pending: 0, paying: 2 });

    // A cart over three partitions counts once; one refused in a later partition counts nothing.
    // (The last partition's SKU has one unit: the second cart's home part is held, pending, then given back.)
    const cartSkus = skusInDistinctPartitions(engine, `hcc${n}`, 3)
      .sort((x, y) => partitionOf(x, engine.settings.partitions) - partitionOf(y, engine.settings.partitions));
    for (const [i, sku] of cartSkus.entries()) await product(sku, i === 2 ? 1 : 2);
    const cart = await held(cartSkus.map((sku) => ({ sku, qty: 1 })));
    const refused = await engine.reserve({ userId: 'x', items: cartSkus.map((sku) => ({ sku, qty: 1 })) });
    expect(refused).toMatchObject({ kind: 'out_of_stock', sku: cartSkus[2] });
    expect((await engine.holdCounts()).live).toEqual({ held: 6, pending: 0, paying: 2 });
    expect((await engine.beginPayment(cart)).kind).toBe('paying');
    expect((await engine.holdCounts()).live).toEqual({ held: 5, pending: 0, paying: 3 });
    expect(await recount(engine)).toEqual((await engine.holdCounts()).live);

    // Expiries: by the sweeper; by a reserve call's reclaim; by a step on a hold past its deadline.
    const short = await Promise.all(Array.from({ length: 3 }, () => held([{ sku: b, qty: 1 }], 1_000)));
    await advanceClock(engine, 2_000);
    expect((await engine.release(short[0]!)).kind).toBe('expired');
    expect((await engine.holdCounts()).expired).toEqual({ reserve: 0, sweeper: 0, access: 1 });
    await held([{ sku: b, qty: 1 }]);
    expect((await engine.holdCounts()).expired).toEqual({ reserve: 2, sweeper: 0, access: 1 });
    await held([{ sku: a, qty: 1 }], 1_000);
    await advanceClock(engine, 2_000);
    expect((await engine.sweepOnce()).expired).toBeGreaterThanOrEqual(1);
    const after = await engine.holdCounts();
    // The paying holds outlive their TTL (a payment in flight); every held one expired but the last made.
    expect(after.expired.sweeper).toBeGreaterThanOrEqual(1);
    expect(after.live).toEqual(await recount(engine));
    expect(after.live.paying).toBe(3);
  });

  it('holds made before counting began (an upgrade) are never counted, in or out', async () => {
    const { engine: e, redis, close: closeE } = testEngine({ partitions: 1, keyShards: 1 });
    try {
      await e.createProduct({ sku: 'old', name: 'old', priceCents: 1, stock: 10 });
      const made = async () => {
        const out = await e.reserve({ userId: 'u', items: [{ sku: 'old', qty: 1 }] });
        if (out.kind !== 'held') throw new Error(out.kind);
        return out.reservation.id;
      };
      const old = [await made(), await made()];
      // As a release before the counts left Redis: no count fields at all.
      const meta = internalsOf(e).ctx.keys.partition(0).meta;
      await redis.hdel(meta, 'holds_since', 'holds:held', 'holds:pending', 'holds:paying');
      await advanceClock(e, 5);
      await e.beginPayment(old[0]!);
      await e.release(old[1]!);
      expect((await e.holdCounts()).live).toEqual({ held: 0, pending: 0, paying: 0 });
      const fresh = await made();
      await e.beginPayment(old[0]!);
      await e.commit(old[0]!, pay);
      expect((await e.holdCounts()).live).toEqual({ held: 1, pending: 0, paying: 0 });
      await e.beginPayment(fresh);
      expect((await e.holdCounts()).live).toEqual({ held: 0, pending: 0, paying: 1 });
      expect(await recount(e)).toEqual({ held: 0, pending: 0, paying: 1 });
    } finally {
      await closeE();
    }
  });

  it('every script that can change a hold\'s status turns counting on', () => {
    const luaDir = new URL('../../lua/', import.meta.url);
    const moves = /\b(saveRecord|endRecord|expireIfDue|expireDue|expireSku|expireOne|expireHold)\(|\.status = /;
    const scripts = readdirSync(luaDir).filter((f) => f.endsWith('.lua'));
    const changing = scripts.filter((f) => moves.test(readFileSync(new URL(f, luaDir), 'utf8')));
    const counting = changing.filter((f) => /\bcountHoldsIn\(/.test(readFileSync(new URL(f, luaDir), 'utf8')));
    // recordRefund saves a released (expired, aborted) hold with its refund noted: no status changes there.
    expect(changing.filter((f) => !counting.includes(f))).toEqual(['recordRefund-3.lua']);
    expect(counting.length).toBe(9);
  });
});
