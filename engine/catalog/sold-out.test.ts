import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { partitionKeys, partitionOf } from '../index.ts';
import { advanceClock, testEngine, testRedis } from '../../test/support/engine.ts';
import { waitFor } from '../../test/support/api.ts';
import { SoldOutFlags } from './sold-out.ts';

describe('SoldOutFlags', () => {
  it('a flag lasts ttlMs, a freed message ends it, a reply read before a freed message flags nothing', () => {
    let now = 1_000;
    const flags = new SoldOutFlags({ ttlMs: 100, flagsMax: 2, now: () => now });
    expect(flags.soldOut(['A'])).toBeNull();
    flags.flag('A', flags.epoch('A'));
    expect(flags.soldOut(['B', 'A'])).toBe('A');
    now += 99;
    expect(flags.soldOut(['A'])).toBe('A');
    now += 1;
    expect(flags.soldOut(['A'])).toBeNull(); // the bound: never longer than ttlMs

    flags.flag('A', flags.epoch('A'));
    flags.freed('A');
    expect(flags.soldOut(['A'])).toBeNull();

    const before = flags.epoch('A');
    flags.freed('A'); // units came back while the refusal was on its way
    flags.flag('A', before);
    expect(flags.soldOut(['A'])).toBeNull();
  });

  it('keeps at most flagsMax flags (the oldest goes), and ttlMs 0 turns it off', () => {
    const flags = new SoldOutFlags({ ttlMs: 100, flagsMax: 2 });
    for (const sku of ['A', 'B', 'C']) flags.flag(sku, flags.epoch(sku));
    expect(flags.soldOut(['A'])).toBeNull();
    expect(flags.soldOut(['B'])).toBe('B');
    expect(flags.soldOut(['C'])).toBe('C');
    const off = new SoldOutFlags({ ttlMs: 0, flagsMax: 2 });
    off.flag('A', off.epoch('A'));
    expect(off.enabled).toBe(false);
    expect(off.soldOut(['A'])).toBeNull();
  });
});

describe('the sold-out short-circuit in the engine (real Redis)', () => {
  const open: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of open.splice(0)) await close();
  });
  const engineWith = (soldOutCacheMs: number) => {
    const t = testEngine({ soldOutCacheMs });
    open.push(t.close);
    return t;
  };
  const sku = () => `SO-${randomBytes(4).toString('hex')}`;
  const key = () => `k-${randomBytes(6).toString('hex')}`;

  /** A SKU of `units`, sold out by holds of one unit each; their ids. */
  async function soldOut(t: ReturnType<typeof engineWith>, s: string, units: number): Promise<string[]> {
    await t.engine.createProduct({ sku: s, name: s, priceCents: 100, stock: units });
    const ids: string[] = [];
    for (let i = 0; i < units; i++) {
      const out = await t.engine.reserve({ userId: `u${i}`, items: [{ sku: s, qty: 1 }], idempotencyKey: key() });
      if (out.kind !== 'held') throw new Error(out.kind);
      ids.push(out.reservation.id);
    }
    expect(await t.engine.reserve({ userId: 'late', items: [{ sku: s, qty: 1 }], idempotencyKey: key() }))
      .toEqual({ kind: 'out_of_stock', sku: s, available: 0 });
    return ids;
  }

  it('refuses a sold-out SKU without a reserve call to Redis; the refusal is remembered under its key, as any refusal', async () => {
    const t = engineWith(100);
    const s = sku();
    await soldOut(t, s, 2);
    t.engine.takeBatchSizes();
    const k = key();
    const startedMs = Date.now();
    for (let i = 0; i < 20; i++) {
      expect(await t.engine.reserve({ userId: `x${i}`, items: [{ sku: s, qty: 1 }], idempotencyKey: i === 0 ? k : key() }))
        .toEqual({ kind: 'out_of_stock', sku: s, available: 0 });
    }
    // No reserve script call while the flag stands: none when the 20 took under its 100 ms, else at most one per 100 ms
    // the flag ended in (a loaded machine; each refusal from Redis flags the SKU again). Without the flag: 20.
    expect(t.engine.takeBatchSizes().length).toBeLessThanOrEqual(Math.floor((Date.now() - startedMs) / 100));
    // Its replay, also once stock came back, answers the same refusal; its key with another body is refused.
    expect((await t.engine.adjustStock(s, 5)).kind).toBe('adjusted');
    expect(await t.engine.reserve({ userId: 'x0', items: [{ sku: s, qty: 1 }], idempotencyKey: k }))
      .toEqual({ kind: 'duplicate', of: { kind: 'out_of_stock', sku: s, available: 0 } });
    expect(await t.engine.reserve({ userId: 'x0', items: [{ sku: s, qty: 2 }], idempotencyKey: k })).toEqual({ kind: 'key_reused' });
    // A new request is held (at once by the freed message, or by the flag's end).
    await waitFor(async () => (await t.engine.reserve({ userId: 'x1', items: [{ sku: s, qty: 1 }], idempotencyKey: key() })).kind === 'held',
      10_000, 'a new hold after the restock');
  });

  it('a replay still gets its first answer (a hold), though the SKU is sold out now', async () => {
    const t = engineWith(100);
    const s = sku();
    await t.engine.createProduct({ sku: s, name: s, priceCents: 100, stock: 1 });
    const k = key();
    const first = await t.engine.reserve({ userId: 'a', items: [{ sku: s, qty: 1 }], idempotencyKey: k });
    expect(first.kind).toBe('held');
    expect((await t.engine.reserve({ userId: 'b', items: [{ sku: s, qty: 1 }], idempotencyKey: key() })).kind).toBe('out_of_stock');
    const again = await t.engine.reserve({ userId: 'a', items: [{ sku: s, qty: 1 }], idempotencyKey: k });
    expect(again).toEqual({ kind: 'duplicate', of: first });
  });

  // A flag that only the freed message can end (its TTL far past the test), for each way units come back.
  it.each(['release', 'restock', 'expiry'] as const)('units freed by a %s clear the flag at once (pub/sub)', async (how) => {
    const t = engineWith(60_000);
    const s = sku();
    const ids = await soldOut(t, s, 2);
    // The first flag started the subscription: wait until Redis has it (a message before it is lost, and only the TTL would end the flag).
    const channel = `${partitionKeys(t.engine.settings.keyPrefix, partitionOf(s, t.engine.settings.partitions)).skus}:freed`;
    await waitFor(async () => ((await t.redis.pubsub('SHARDNUMSUB', channel)) as [string, number])[1] > 0, 10_000, 'the subscription');
    if (how === 'release') expect((await t.engine.release(ids[0]!)).kind).toBe('released');
    if (how === 'restock') expect((await t.engine.adjustStock(s, 5)).kind).toBe('adjusted');
    if (how === 'expiry') {
      await advanceClock(t.engine, t.engine.settings.holdTtlMsMax + 1_000);
      await t.engine.sweepOnce();
    }
    const granted = await waitFor(async () => {
      const out = await t.engine.reserve({ userId: 'back', items: [{ sku: s, qty: 1 }], idempotencyKey: key() });
      return out.kind === 'held' ? out : false;
    }, 10_000, `a hold of ${s} after the ${how}`);
    expect(granted.kind).toBe('held');
  });

  it('a freed message lost: the flag ends by its TTL (100 ms)', async () => {
    const t = engineWith(100);
    const s = sku();
    await soldOut(t, s, 1);
    // Units put back behind the scripts' back: no message is published.
    const admin = testRedis(inject('redisAdminUrl'));
    try {
      await admin.hincrby(partitionKeys(t.engine.settings.keyPrefix, partitionOf(s, t.engine.settings.partitions)).skus, `${s}:t`, 1);
      await admin.hincrby(partitionKeys(t.engine.settings.keyPrefix, partitionOf(s, t.engine.settings.partitions)).skus, `${s}:a`, 1);
    } finally {
      admin.disconnect();
    }
    await sleep(100); // the bound under test: past it, the flag is gone whatever the machine's speed
    expect((await t.engine.reserve({ userId: 'back', items: [{ sku: s, qty: 1 }], idempotencyKey: key() })).kind).toBe('held');
  });
});
