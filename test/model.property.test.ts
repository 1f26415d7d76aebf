import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emptyRecord, Engine, partitionOf, type Stock } from '../engine/index.ts';
import { advanceClock, conserved, testRedis } from './support/engine.ts';

/*
 * Random sequences of reserve / pay / confirm / release / clock-advance / sweep /
 * restock, run against the real engine and against a small in-memory model.
 * After every step: invariants C (available + reserved + sold == total, all >= 0)
 * and N (sold <= units ever stocked) hold, and each outcome is the one the model
 * predicts. After a sweep, every count equals the model's.
 *
 * Clock: TTLs end in 5 s and the clock moves in 10 s steps, so a hold is never
 * within a few seconds of its deadline when checked, whatever real time passes.
 */
const partitions = 2;
const limitOf = (i: number) => (i % 2 === 1 ? 3 : 0);

type Status = 'held' | 'paying' | 'confirmed' | 'released' | 'expired';
interface ModelHold { id: string; user: string; lines: { sku: string; qty: number }[]; expiresAt: number; status: Status }
interface ModelSku { total: number; stocked: number; sold: number; limit: number; partition: number }

class Model {
  now = 0;
  holds: ModelHold[] = [];
  skus = new Map<string, ModelSku>();

  live(h: ModelHold): boolean {
    if (h.status === 'held' && this.now >= h.expiresAt) h.status = 'expired';
    return h.status === 'held' || h.status === 'paying';
  }
  reserved(sku: string): number {
    return this.holds.filter((h) => this.live(h)).reduce((s, h) => s + (h.lines.find((l) => l.sku === sku)?.qty ?? 0), 0);
  }
  available(sku: string): number {
    const s = this.skus.get(sku)!;
    return s.total - s.sold - this.reserved(sku);
  }
  userUnits(user: string, sku: string): number {
    return this.holds.filter((h) => h.user === user && (this.live(h) || h.status === 'confirmed'))
      .reduce((s, h) => s + (h.lines.find((l) => l.sku === sku)?.qty ?? 0), 0);
  }
  /** The engine checks lines partition by partition (ascending), in request order within one. */
  reserve(user: string, lines: { sku: string; qty: number }[]): { kind: string; sku?: string; available?: number; limit?: number } {
    const ordered = [...lines].sort((a, b) => this.skus.get(a.sku)!.partition - this.skus.get(b.sku)!.partition);
    for (const l of ordered) {
      const s = this.skus.get(l.sku)!;
      const available = this.available(l.sku);
      if (available < l.qty) return { kind: 'out_of_stock', sku: l.sku, available };
      if (s.limit > 0 && this.userUnits(user, l.sku) + l.qty > s.limit) return { kind: 'per_user_limit', sku: l.sku, limit: s.limit };
    }
    return { kind: 'held' };
  }
  stock(sku: string): Stock {
    const s = this.skus.get(sku)!;
    const reserved = this.reserved(sku);
    return { total: s.total, available: s.total - s.sold - reserved, reserved, sold: s.sold };
  }
}

const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('reserve' as const), user: fc.nat(3), skus: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 2 }), qty: fc.integer({ min: 1, max: 3 }), ttl: fc.constantFrom(15_000, 35_000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('pay' as const), hold: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('confirm' as const), hold: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), hold: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), steps: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('sweep' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restock' as const), sku: fc.nat(3), delta: fc.integer({ min: 1, max: 3 }) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

let redis: Redis | Cluster;
beforeAll(() => { redis = testRedis(); });
afterAll(async () => { await redis.quit(); });

/** Four SKUs, two in each partition. */
function skuNames(): string[] {
  const names: string[] = [];
  const per = [0, 0];
  for (let i = 0; names.length < 4; i++) {
    const p = partitionOf(`m${i}`, partitions);
    if (per[p]! < 2) { per[p]! += 1; names.push(`m${i}`); }
  }
  return names;
}

async function runSequence(ops: Op[]): Promise<void> {
  // The model decides every request in Redis: no sold-out flags (their bounded staleness is engine/catalog/sold-out.test.ts's),
  // since the model moves the scripts' clock in jumps that make holds due at once.
  const engine = Engine.create(redis, { keyPrefix: `m${randomBytes(4).toString('hex')}:`, partitions, keyShards: 1, reclaimWorkMax: 100_000,
    soldOutCacheMs: 0 });
  await engine.useRecord(emptyRecord);
  const model = new Model();
  const names = skuNames();
  for (const [i, sku] of names.entries()) {
    await engine.createProduct({ sku, name: sku, priceCents: 100, stock: 4, perUserLimit: limitOf(i) });
    model.skus.set(sku, { total: 4, stocked: 4, sold: 0, limit: limitOf(i), partition: partitionOf(sku, partitions) });
  }
  for (const o of ops) {
    await step(engine, model, names, o);
    for (const sku of names) {
      const stock = (await engine.getProduct(sku))!.stock;
      expect(conserved(stock), `C for ${sku} after ${JSON.stringify(o)}`).toBe(true);
      expect(stock.sold, `N for ${sku}`).toBeLessThanOrEqual(model.skus.get(sku)!.stocked);
      if (o.t === 'sweep') expect(stock, `${sku} after sweep`).toEqual(model.stock(sku));
    }
  }
}

async function step(engine: Engine, model: Model, names: string[], o: Op): Promise<void> {
  const hold = 'hold' in o ? model.holds[o.hold % Math.max(1, model.holds.length)] : undefined;
  switch (o.t) {
    case 'reserve': {
      const user = `u${o.user}`;
      const lines = o.skus.map((i) => ({ sku: names[i]!, qty: o.qty }));
      const predicted = model.reserve(user, lines);
      const out = await engine.reserve({ userId: user, items: lines, ttlMs: o.ttl });
      if (out.kind === 'held') {
        expect(predicted.kind).toBe('held');
        model.holds.push({ id: out.reservation.id, user, lines, expiresAt: model.now + o.ttl, status: 'held' });
      } else {
        expect(out).toEqual(predicted);
      }
      return;
    }
    case 'pay': {
      if (!hold) return;
      const out = await engine.beginPayment(hold.id);
      model.live(hold);
      if (hold.status === 'held') hold.status = 'paying';
      expect(out.kind).toBe(hold.status === 'paying' ? 'paying' : hold.status);
      return;
    }
    case 'confirm': {
      if (!hold) return;
      await engine.beginPayment(hold.id);
      const out = await engine.commit(hold.id, { amountCents: 1, reference: 'x' });
      if (model.live(hold)) {
        hold.status = 'confirmed';
        for (const l of hold.lines) model.skus.get(l.sku)!.sold += l.qty;
      }
      expect(out.kind).toBe(hold.status);
      return;
    }
    case 'release': {
      if (!hold) return;
      const out = await engine.release(hold.id);
      model.live(hold);
      const expected = hold.status === 'paying' ? 'payment_in_progress' : hold.status === 'held' ? 'released' : hold.status;
      if (hold.status === 'held') hold.status = 'released';
      expect(out.kind).toBe(expected);
      return;
    }
    case 'advance':
      model.now += o.steps * 10_000;
      await advanceClock(engine, o.steps * 10_000);
      return;
    case 'sweep':
      await engine.sweepOnce();
      return;
    case 'restock': {
      const sku = names[o.sku]!;
      await engine.adjustStock(sku, o.delta);
      model.skus.get(sku)!.total += o.delta;
      model.skus.get(sku)!.stocked += o.delta;
      return;
    }
  }
}

it('invariants C and N hold, and outcomes match the model, over random sequences', async () => {
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), runSequence), { numRuns: 150 });
}, 240_000);
