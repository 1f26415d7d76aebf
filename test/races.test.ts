import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, partitionOf, type ReserveOutcome } from '../engine/index.ts';
import { conserved, skusInOnePartition, stockOf, testEngine } from './support/engine.ts';

// Races are tested by racing: many concurrent callers, through several engines
// (each its own Redis connection and batcher, as separate API processes would be),
// repeated round after round.
const engineCount = 3;
let engines: Engine[] = [];
let closers: (() => Promise<void>)[] = [];
let n = 0;

beforeAll(() => {
  const first = testEngine();
  engines = [first.engine];
  closers = [first.close];
  for (let i = 1; i < engineCount; i++) {
    const other = testEngine({ keyPrefix: first.engine.settings.keyPrefix });
    engines.push(other.engine);
    closers.push(other.close);
  }
});
afterAll(() => Promise.all(closers.map((c) => c())));

const pick = (i: number) => engines[i % engineCount]!;

async function product(stock: number, perUserLimit = 0): Promise<string> {
  const sku = `r${++n}`;
  await engines[0]!.createProduct({ sku, name: sku, priceCents: 100, stock, perUserLimit });
  return sku;
}

const held = (outs: ReserveOutcome[]) => outs.filter((o) => o.kind === 'held');

describe('no oversell under concurrency', () => {
  it('1,000 concurrent single-unit reserves on 10 units give exactly 10 holds, 20 rounds', async () => {
    for (let round = 0; round < 20; round++) {
      const sku = await product(10);
      const outs = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
        pick(i).reserve({ userId: `u${i}`, items: [{ sku, qty: 1 }] })));
      expect(held(outs)).toHaveLength(10);
      expect(outs.filter((o) => o.kind === 'out_of_stock')).toHaveLength(990);
      const stock = await stockOf(engines[0]!, sku);
      expect(stock).toEqual({ total: 10, available: 0, reserved: 10, sold: 0 });
      expect(conserved(stock)).toBe(true);
    }
  });

  it('mixed quantities never hold more than the stock', async () => {
    for (let round = 0; round < 10; round++) {
      const sku = await product(37);
      const outs = await Promise.all(Array.from({ length: 300 }, (_, i) =>
        pick(i).reserve({ userId: `u${i}`, items: [{ sku, qty: 1 + (i % 4) }] })));
      const units = held(outs).reduce((sum, o) => sum + (o.kind === 'held' ? o.reservation.items[0]!.qty : 0), 0);
      const stock = await stockOf(engines[0]!, sku);
      expect(stock.reserved).toBe(units);
      expect(units).toBeLessThanOrEqual(37);
      expect(stock.available).toBeLessThan(4); // whatever is left is too little for some request
      expect(conserved(stock)).toBe(true);
    }
  });

  it('reserve, release and confirm racing on one SKU keep C, and sold never passes stock', async () => {
    const sku = await product(50);
    const worker = async (w: number) => {
      for (let i = 0; i < 40; i++) {
        const out = await pick(w).reserve({ userId: `w${w}`, items: [{ sku, qty: 1 + (i % 3) }] });
        if (out.kind !== 'held') continue;
        const id = out.reservation.id;
        if (i % 3 === 0) await pick(w + 1).release(id);
        else if (i % 3 === 1) {
          await pick(w + 2).beginPayment(id);
          await pick(w).commit(id, { amountCents: out.reservation.totalCents, reference: `ch_${id}` });
        }
      }
    };
    await Promise.all(Array.from({ length: 30 }, (_, w) => worker(w)));
    const stock = await stockOf(engines[0]!, sku);
    expect(conserved(stock)).toBe(true);
    expect(stock.sold).toBeLessThanOrEqual(50);
  });
});

describe('per-user limit under concurrency', () => {
  it('200 concurrent requests by one user never pass the limit, 10 rounds', async () => {
    for (let round = 0; round < 10; round++) {
      const sku = await product(1000, 3);
      const outs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        pick(i).reserve({ userId: 'greedy', items: [{ sku, qty: 1 + (i % 2) }] })));
      const units = held(outs).reduce((sum, o) => sum + (o.kind === 'held' ? o.reservation.items[0]!.qty : 0), 0);
      expect(units).toBeLessThanOrEqual(3);
      expect(units).toBeGreaterThanOrEqual(2); // at least one request had to fit
      expect(outs.filter((o) => o.kind === 'per_user_limit').length).toBe(200 - held(outs).length);
      expect((await stockOf(engines[0]!, sku)).reserved).toBe(units);
    }
  });
});

describe('idempotency under concurrency', () => {
  it('100 identical requests at the same moment: one hold, one answer for all, 10 rounds', async () => {
    for (let round = 0; round < 10; round++) {
      const sku = await product(500);
      const req = { userId: 'same', items: [{ sku, qty: 2 }], idempotencyKey: `burst-${sku}` };
      const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => pick(i).reserve(req)));
      const firsts = outs.filter((o) => o.kind === 'held');
      expect(firsts).toHaveLength(1);
      const answer = firsts[0]!;
      for (const o of outs) if (o.kind === 'duplicate') expect(o.of).toEqual(answer);
      expect(outs.filter((o) => o.kind === 'duplicate')).toHaveLength(99);
      expect((await stockOf(engines[0]!, sku)).reserved).toBe(2);
    }
  });

  it('the same key with different bodies at the same moment: one wins, the rest are refused', async () => {
    const sku = await product(500);
    const key = `mixed-${sku}`;
    const outs = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      pick(i).reserve({ userId: 'same', items: [{ sku, qty: 1 + (i % 5) }], idempotencyKey: key })));
    const winner = outs.find((o) => o.kind === 'held');
    expect(winner).toBeDefined();
    const qty = winner!.kind === 'held' ? winner!.reservation.items[0]!.qty : 0;
    const sameBody = outs.filter((_, i) => 1 + (i % 5) === qty);
    expect(sameBody.every((o) => o.kind === 'held' || o.kind === 'duplicate')).toBe(true);
    expect(outs.filter((o) => o.kind === 'key_reused')).toHaveLength(50 - sameBody.length);
    expect((await stockOf(engines[0]!, sku)).reserved).toBe(qty);
  });
});

describe('multi-partition carts under concurrency', () => {
  it('carts racing for the last units are all-or-nothing: no unit stays reserved by a failed cart', async () => {
    const [a] = skusInOnePartition(engines[0]!, `ca${n++}`, 1);
    const [b] = skusInOnePartition(engines[0]!, `cb${n++}`, 1, partitionOf(a!, engines[0]!.settings.partitions));
    await engines[0]!.createProduct({ sku: a!, name: 'a', priceCents: 100, stock: 30 });
    await engines[0]!.createProduct({ sku: b!, name: 'b', priceCents: 100, stock: 10 });
    const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => pick(i).reserve({
      userId: `c${i}`, items: i % 2 ? [{ sku: a!, qty: 1 }, { sku: b!, qty: 1 }] : [{ sku: b!, qty: 1 }, { sku: a!, qty: 1 }],
    })));
    const carts = held(outs).length;
    expect(carts).toBe(10); // b runs out after 10 carts; the units failed carts took come back
    expect(await stockOf(engines[0]!, a!)).toEqual({ total: 30, available: 20, reserved: 10, sold: 0 });
    expect(await stockOf(engines[0]!, b!)).toEqual({ total: 10, available: 0, reserved: 10, sold: 0 });
  });
});
