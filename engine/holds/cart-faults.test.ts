import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, lostReply, partitionOf } from '../index.ts';
import { internalsOf } from '../engine.ts';
import { advanceClock, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';

// A reply lost after a script ran (the connection dropped mid-reply) must never
// strand a cart: either its parts are given back, or its Idempotency-Key is kept
// so that the retry finds the same reservation.
type Drop = (name: string, args: readonly (string | number)[]) => boolean;
/** Planned faults, each once: a reply dropped after its script ran, or a call failed before it ran. */
const drops: Drop[] = [];
const refusals: Drop[] = [];
const once = (planned: Drop[], name: string, args: readonly (string | number)[]) => {
  const at = planned.findIndex((drop) => drop(name, args));
  if (at < 0) return;
  planned.splice(at, 1);
  throw lostReply(name);
};
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

/** Runs after a matching script call (once each): a slow step, e.g. the clock passing a deadline meanwhile. */
const delays: { match: Drop; run: () => Promise<void> }[] = [];

beforeAll(() => ({ engine, close } = testEngine({ cartReplayWaitMs: 100 }, {
  beforeScript: (name, args) => once(refusals, name, args),
  afterScript: async (name, args) => {
    const at = delays.findIndex((d) => d.match(name, args));
    if (at >= 0) await delays.splice(at, 1)[0]!.run();
    once(drops, name, args);
  },
})));
afterAll(() => close());

/** Two one-unit SKUs in two partitions (the first one's partition is the lower: the cart's home). */
async function twoSkus(): Promise<[string, string]> {
  const [a] = skusInOnePartition(engine, `cf${++n}a`, 1);
  const [b] = skusInOnePartition(engine, `cf${n}b`, 1, partitionOf(a!, engine.settings.partitions));
  const [home, other] = partitionOf(a!, engine.settings.partitions) < partitionOf(b!, engine.settings.partitions) ? [a!, b!] : [b!, a!];
  await engine.createProduct({ sku: home, name: 'home', priceCents: 100, stock: 1, perUserLimit: 1 });
  await engine.createProduct({ sku: other, name: 'other', priceCents: 200, stock: 1 });
  return [home, other];
}

const request = (skus: string[], key: string) => ({ userId: 'u', items: skus.map((sku) => ({ sku, qty: 1 })), idempotencyKey: key });
const isHomeReserve: Drop = (name, args) => name === 'reserveHolds' && args.includes('p1');
const isPartReserve: Drop = (name, args) => name === 'reserveHolds' && args.includes('c0');
const isActivate: Drop = (name) => name === 'activateCart';
const isRelease: Drop = (name) => name === 'releaseHold';

/** Reserved units of each SKU: exactly one cart's worth, never a stranded second. */
async function reservedOf(skus: string[]): Promise<number[]> {
  return Promise.all(skus.map(async (sku) => (await stockOf(engine, sku)).reserved));
}

describe('a cart whose script reply is lost', () => {
  for (const [what, drop] of [['the home part', isHomeReserve], ['another part', isPartReserve], ['the activation', isActivate]] as const) {
    it(`after ${what} ran: the retry with the same key gets a reservation, and units are held once`, async () => {
      const skus = await twoSkus();
      drops.push(drop);
      await expect(engine.reserve(request(skus, `k${n}`))).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(drops).toHaveLength(0);
      const retry = await engine.reserve(request(skus, `k${n}`));
      const held = retry.kind === 'duplicate' ? retry.of : retry;
      expect(held.kind, JSON.stringify(retry)).toBe('held');
      expect(await reservedOf(skus)).toEqual([1, 1]);
      // And the reservation it names is whole: it can be released, every unit comes back.
      if (held.kind !== 'held') return;
      expect(await engine.release(held.reservation.id)).toEqual({ kind: 'released' });
      expect(await reservedOf(skus)).toEqual([0, 0]);
    });
  }

  it('when the reply of giving the parts back is lost too, the retry finds them given back and reserves afresh', async () => {
    const skus = await twoSkus();
    drops.push(isHomeReserve, isRelease);
    await expect(engine.reserve(request(skus, `k${n}`))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(drops).toHaveLength(0);
    const retry = await engine.reserve(request(skus, `k${n}`));
    expect(retry.kind, JSON.stringify(retry)).toBe('held');
    expect(await reservedOf(skus)).toEqual([1, 1]);
  });

  it('when giving the parts back cannot run (Redis away), the key is kept and the retry finishes the same cart', async () => {
    const skus = await twoSkus();
    drops.push(isHomeReserve);
    refusals.push(isRelease);
    await expect(engine.reserve(request(skus, `k${n}`))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect([drops.length, refusals.length]).toEqual([0, 0]);
    const retry = await engine.reserve(request(skus, `k${n}`));
    expect(retry.kind).toBe('duplicate');
    const held = retry.kind === 'duplicate' ? retry.of : retry;
    expect(held.kind, JSON.stringify(retry)).toBe('held');
    expect(await reservedOf(skus)).toEqual([1, 1]);
    if (held.kind === 'held') expect((await engine.getReservation(held.reservation.id))?.status).toBe('held');
  });

  it('a lost reply of a single-partition hold keeps the key: the retry finds the same hold', async () => {
    const [sku] = skusInOnePartition(engine, `cf${++n}s`, 1);
    await engine.createProduct({ sku: sku!, name: 's', priceCents: 100, stock: 1 });
    drops.push((name, args) => name === 'reserveHolds' && args.includes('h1'));
    await expect(engine.reserve(request([sku!], `k${n}`))).rejects.toMatchObject({ code: 'ECONNRESET' });
    const retry = await engine.reserve(request([sku!], `k${n}`));
    expect(retry).toMatchObject({ kind: 'duplicate', of: { kind: 'held' } });
    expect(await reservedOf([sku!])).toEqual([1]);
  });

  it('a cart whose home part expires before it is whole: 503, and the retry reserves afresh (not a stale hold)', async () => {
    const skus = await twoSkus();
    delays.push({ match: isPartReserve, run: () => advanceClock(engine, 1_000) });
    await expect(engine.reserve({ ...request(skus, `k${n}`), ttlMs: 1_000 })).rejects.toMatchObject({ code: 'SERVICE_FAILED' });
    expect(await reservedOf(skus)).toEqual([0, 0]);
    const retry = await engine.reserve({ ...request(skus, `k${n}`), ttlMs: 1_000 });
    expect(retry.kind, JSON.stringify(retry)).toBe('held');
    expect(await reservedOf(skus)).toEqual([1, 1]);
  });

  it('a refused cart whose giving back of a part fails at first: the part is given back all the same, the retry gets the refusal', async () => {
    const skus: string[] = [];
    const used = new Set<number>();
    for (let i = 0; skus.length < 3; i++) {
      const sku = `cf${++n}r${i}`;
      const p = partitionOf(sku, engine.settings.partitions);
      if (!used.has(p)) { used.add(p); skus.push(sku); }
    }
    skus.sort((a, b) => partitionOf(a, engine.settings.partitions) - partitionOf(b, engine.settings.partitions));
    for (const [i, sku] of skus.entries()) await engine.createProduct({ sku, name: sku, priceCents: 100, stock: i < 2 ? 1 : 0 });
    const middle = internalsOf(engine).ctx.keys.partition(partitionOf(skus[1]!, engine.settings.partitions)).skus;
    refusals.push((name, args) => name === 'releaseHold' && args[0] === middle && args.includes('abort'));
    await expect(engine.reserve(request(skus, `k${n}`))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await reservedOf(skus)).toEqual([0, 0, 0]);
    const retry = await engine.reserve(request(skus, `k${n}`));
    expect(retry).toEqual({ kind: 'duplicate', of: { kind: 'out_of_stock', sku: skus[2], available: 0 } });
  });

  it('forgetClaim frees a key only while its claim still names the request given back', async () => {
    const { claims } = internalsOf(engine).ctx.keys.shard(0);
    await internalsOf(engine).ctx.redis.hset(claims, 'fc-key', 'fp 1.newerrequest0001');
    expect(await internalsOf(engine).ctx.scripts.forgetClaim(claims, 'fc-key', '1.olderrequest0001')).toBe(0);
    expect(await internalsOf(engine).ctx.redis.hget(claims, 'fc-key')).toBe('fp 1.newerrequest0001');
    expect(await internalsOf(engine).ctx.scripts.forgetClaim(claims, 'fc-key', '1.newerrequest0001')).toBe(1);
    expect(await internalsOf(engine).ctx.redis.hexists(claims, 'fc-key')).toBe(0);
  });
});
