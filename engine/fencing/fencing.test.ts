import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Engine, emptyRecord, partitionOf, type Mark, type RecordView } from '../index.ts';
import { internalsOf } from '../engine.ts';
import { confirmOrder } from '../../test/support/engine.ts';

// Fencing inside the engine, against the real scripts in the suite's Redis: a
// RecordView stands in for PostgreSQL (what its marks say is what the test sets).
let redis: Redis;
beforeAll(() => { redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 }); });
afterAll(async () => { await redis.quit(); });

/** A system of record whose markers and products the test sets. */
function fakeRecord(): RecordView & { markOf: Map<number, Mark>; skus: string[]; stock: Map<string, { total: number; sold: number }> } {
  const markOf = new Map<number, Mark>();
  const skus: string[] = [];
  const stock = new Map<string, { total: number; sold: number }>();
  return { markOf, skus, stock, marks: async () => new Map(markOf), productSkus: async () => [...skus],
    stockOf: async (list) => new Map([...stock].filter(([sku]) => list.includes(sku))) };
}

function newEngine(): Engine {
  return Engine.create(redis, { keyPrefix: `f${randomBytes(4).toString('hex')}:`, partitions: 4, keyShards: 1 });
}

const meta = (engine: Engine, p: number) => internalsOf(engine).ctx.keys.partition(p).meta;
const product = (sku: string, stock = 5) => ({ sku, name: sku, priceCents: 100, stock });

describe('the check at start', () => {
  it('initialises every partition of a fresh install (PostgreSQL holds nothing), then grants', async () => {
    const engine = newEngine();
    const states = await engine.useRecord(emptyRecord);
    expect(states.map((s) => [s.initialised, s.fenced])).toEqual(Array(4).fill([true, null]));
    expect((await engine.createProduct(product('fresh'))).kind).toBe('created');
  });

  it('fences a partition that Redis lost (init missing) while PostgreSQL has its products: reads and grants are refused', async () => {
    const engine = newEngine();
    const record = fakeRecord();
    const p = partitionOf('lost', 4);
    record.skus.push('lost');
    const states = await engine.useRecord(record);
    expect(states[p]).toMatchObject({ initialised: false, fenced: 'empty' });
    expect(states.filter((s) => s.partition !== p).every((s) => s.fenced === null)).toBe(true);
    expect(await redis.hget(meta(engine, p), 'fenced')).toBe('empty');
    await expect(engine.createProduct(product('lost'))).rejects.toMatchObject({ code: 'FENCED' });
    await expect(engine.getProduct('lost')).rejects.toMatchObject({ code: 'FENCED' });
    expect(await engine.isFenced()).toBe(true);
  });

  it('fences a partition whose seq is behind PostgreSQL\'s marker, and raises its seq to the marker', async () => {
    const engine = newEngine();
    await engine.useRecord(emptyRecord);
    await engine.createProduct(product('behind'));
    const p = partitionOf('behind', 4);
    expect(await redis.hget(meta(engine, p), 'seq')).toBe('1');
    const record = fakeRecord();
    record.markOf.set(p, { seq: 9, eventId: `${p}:1-0` });
    const states = await engine.useRecord(record);
    expect(states[p]).toMatchObject({ fenced: 'behind', seq: 9 });
    await expect(engine.reserve({ userId: 'u', items: [{ sku: 'behind', qty: 1 }] })).rejects.toMatchObject({ code: 'FENCED' });
    await expect(engine.adjustStock('behind', 1)).rejects.toMatchObject({ code: 'FENCED' });
  });

  it('adopts a partition of an install from before the marker (Redis has products, PostgreSQL no marker)', async () => {
    const engine = newEngine();
    await engine.useRecord(emptyRecord);
    await engine.createProduct(product('old'));
    const p = partitionOf('old', 4);
    await redis.hdel(meta(engine, p), 'init');
    const record = fakeRecord();
    record.skus.push('old');
    expect((await engine.useRecord(record))[p]).toMatchObject({ initialised: true, fenced: null });
  });

  it('a redis-server not checked since it started (ck is another run_id): the call checks first, then grants', async () => {
    const engine = newEngine();
    await engine.useRecord(emptyRecord);
    await engine.createProduct(product('ck'));
    const p = partitionOf('ck', 4);
    await redis.hset(meta(engine, p), 'ck', 'another-run-id');
    expect((await engine.reserve({ userId: 'u', items: [{ sku: 'ck', qty: 1 }] })).kind).toBe('held');
    const runId = /run_id:(\w+)/.exec(await redis.info('server'))![1];
    expect(await redis.hget(meta(engine, p), 'ck')).toBe(runId);
  });

  it('an engine with no system of record grants nothing on a partition never checked', async () => {
    const engine = newEngine();
    await expect(engine.createProduct(product('nocheck'))).rejects.toMatchObject({ code: 'FENCED' });
  });
});

describe('fence and lift (the API repair uses)', () => {
  it('fence() refuses holds, payment starts and commits, and keeps its first reason; liftFence() lifts once the stores agree', async () => {
    const engine = newEngine();
    const record = fakeRecord();
    await engine.useRecord(record);
    await engine.createProduct(product('lift', 5));
    const held = await engine.reserve({ userId: 'u', items: [{ sku: 'lift', qty: 1 }] });
    if (held.kind !== 'held') throw new Error(held.kind);
    const paying = await engine.reserve({ userId: 'u', items: [{ sku: 'lift', qty: 1 }] });
    if (paying.kind !== 'held') throw new Error(paying.kind);
    expect((await engine.beginPayment(paying.reservation.id)).kind).toBe('paying');
    const p = partitionOf('lift', 4);

    expect(await engine.fence(p, 'repair test')).toBe('repair test');
    expect(await engine.fence(p, 'another')).toBe('repair test');
    expect((await engine.fences())[p]).toMatchObject({ fenced: 'repair test', initialised: true });
    await expect(engine.reserve({ userId: 'u', items: [{ sku: 'lift', qty: 1 }] })).rejects.toMatchObject({ code: 'FENCED' });
    await expect(engine.beginPayment(held.reservation.id)).rejects.toMatchObject({ code: 'FENCED' });
    await expect(engine.commit(paying.reservation.id, { amountCents: 100, reference: 'ch' })).rejects.toMatchObject({ code: 'FENCED' });
    await expect(engine.getReservation(held.reservation.id)).rejects.toMatchObject({ code: 'FENCED' });
    // A release gives units back to the fenced Redis only: it sells nothing, so it is not refused.
    expect((await engine.release(held.reservation.id)).kind).toBe('released');

    // The outbox still holds the product event and PostgreSQL knows nothing: they disagree.
    const refused = await engine.liftFence(p);
    expect(refused.kind).toBe('disagree');
    await engine.outbox.trim(p, await engine.outbox.read(p, 100));
    record.skus.push('lift');
    record.stock.set('lift', { total: 5, sold: 0 });
    record.markOf.set(p, { seq: 20, eventId: `${p}:1-0` });
    expect(await engine.liftFence(p)).toEqual({ kind: 'lifted', seq: 20 });
    expect((await engine.fences())[p]).toMatchObject({ fenced: null, seq: 20 });
    // The saga left paying is committed now, and its event numbered after PostgreSQL's marker.
    expect((await engine.commit(paying.reservation.id, { amountCents: 100, reference: 'ch' })).kind).toBe('confirmed');
    const [event] = await engine.outbox.read(p, 10);
    expect(event?.event).toMatchObject({ t: 'order', q: 21 });
  });

  it('a confirmed order still commits to the same answer after a lift (the saga goes forward)', async () => {
    const engine = newEngine();
    await engine.useRecord(emptyRecord);
    await engine.createProduct(product('fwd', 3));
    expect(await confirmOrder(engine, 'u', [{ sku: 'fwd', qty: 1 }])).toMatch(/^o/);
  });
});

describe('rebuildPartition', () => {
  it('an interrupted rebuild leaves the partitions not yet rebuilt refusing; the next rebuild finishes them', async () => {
    const engine = newEngine();
    await engine.useRecord(emptyRecord);
    await engine.createProduct(product('rb-a', 4));
    const p = partitionOf('rb-a', 4);
    const other = (p + 1) % 4;
    await engine.outbox.trim(p, await engine.outbox.read(p, 100));
    const snapshot = { products: [{ sku: 'rb-a', name: 'rb-a', priceCents: 100, perUserLimit: 0, total: 4, sold: 1 }], userUnits: [], markSeq: 7 };
    await engine.uninitialise();
    // Interrupted after one partition: the others refuse until rebuilt.
    await engine.rebuildPartition(p, snapshot);
    expect((await engine.fences())[other]).toMatchObject({ initialised: false, fenced: 'empty' });
    expect((await engine.getProduct('rb-a'))?.stock).toEqual({ total: 4, available: 3, reserved: 0, sold: 1 });
    await expect(engine.rebuildPartition(p, snapshot)).rejects.toMatchObject({ code: 'ASSERTION' }); // initialised: uninitialise first
    await engine.uninitialise();
    for (let q = 0; q < 4; q++) await engine.rebuildPartition(q, q === p ? snapshot : { products: [], userUnits: [], markSeq: 0 });
    expect((await engine.fences()).map((f) => f.fenced)).toEqual([null, null, null, null]);
    expect((await engine.fences())[p]!.seq).toBe(7);
    expect((await engine.reserve({ userId: 'u', items: [{ sku: 'rb-a', qty: 3 }] })).kind).toBe('held');
    expect((await engine.listProducts(null, 10)).items.map((i) => i.sku)).toEqual(['rb-a']);
  });
});
