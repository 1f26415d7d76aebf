import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, lostReply, partitionOf } from '../index.ts';
import { internalsOf } from '../engine.ts';
import { skusInDistinctPartitions, testEngine } from '../../test/support/engine.ts';
import { longestCommonSubstring } from '../../test/support/ids.ts';

// The order id is random and not derived from the reservation id (issue #11
// item 6), yet commit stays repeatable (DESIGN §1): whatever repeats a commit
// (a resend after a lost reply, a second confirm racing, the recovery after a
// crash between the home part and the others), one reservation gets one order
// id, and every part of a cart is committed under it.
type Match = (name: string, args: readonly (string | number)[]) => boolean;
const drops: Match[] = [];
const refusals: Match[] = [];
const once = (planned: Match[], name: string, args: readonly (string | number)[]) => {
  const at = planned.findIndex((m) => m(name, args));
  if (at >= 0) {
    planned.splice(at, 1);
    throw lostReply(name);
  }
};
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine({}, {
  beforeScript: (name, args) => once(refusals, name, args),
  afterScript: (name, args) => once(drops, name, args),
})));
afterAll(() => close());

const payment = { amountCents: 300, reference: 'ch_oid' };
const partitionOfSku = (sku: string) => partitionOf(sku, engine.settings.partitions);
/** A commitHold call on this partition (its first key is the partition's skus key). */
const commitOn = (partition: number): Match => (name, args) =>
  name === 'commitHold' && args[0] === internalsOf(engine).ctx.keys.partition(partition).skus;

/** A paying cart over `parts` partitions (one unit of each SKU); its id, home partition and other partitions. */
async function payingCart(parts: number): Promise<{ id: string; home: number; others: number[] }> {
  const skus = skusInDistinctPartitions(engine, `oid${++n}`, parts);
  for (const sku of skus) await engine.createProduct({ sku, name: sku, priceCents: 100, stock: 5 });
  const held = await engine.reserve({ userId: 'u', items: skus.map((sku) => ({ sku, qty: 1 })) });
  if (held.kind !== 'held') throw new Error(held.kind);
  const id = held.reservation.id;
  expect(await engine.beginPayment(id)).toMatchObject({ kind: 'paying' });
  const partitions = skus.map(partitionOfSku).sort((a, b) => a - b);
  return { id, home: partitions[0]!, others: partitions.slice(1) };
}

/** The order id each partition's record of the reservation holds, and each order event its outbox has for it. */
async function orderIdsOf(id: string, partitions: number[]): Promise<{ records: string[]; events: string[] }> {
  const { holds } = internalsOf(engine);
  const records = await Promise.all(partitions.map(async (p) => (await holds.recordAt(p, id))?.orderId ?? '(none)'));
  const events: string[] = [];
  for (const p of partitions) {
    for (const { event } of await engine.outbox.read(p, 1_000)) if (event?.t === 'order' && event.id === id) events.push(event.order);
  }
  return { records, events };
}

describe('order ids', () => {
  it('are random, share no 8 characters with the reservation id, and a repeated commit answers the same one', async () => {
    const { id, home } = await payingCart(1);
    const first = await engine.commit(id, payment);
    if (first.kind !== 'confirmed') throw new Error(first.kind);
    expect(first.orderId).toMatch(/^o[a-z2-7]{24}$/);
    expect(longestCommonSubstring(first.orderId, id)).toBeLessThan(8);
    expect(await engine.commit(id, payment)).toEqual(first);
    expect(await orderIdsOf(id, [home])).toEqual({ records: [first.orderId], events: [first.orderId] });
  });

  it('the home part\'s reply lost: the resend answers the order id the home committed, and every part is under it', async () => {
    const { id, home, others } = await payingCart(3);
    drops.push(commitOn(home));
    await expect(engine.commit(id, payment)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(drops).toHaveLength(0);
    const committedFirst = (await internalsOf(engine).holds.recordAt(home, id))!.orderId;
    expect(committedFirst).toMatch(/^o[a-z2-7]{24}$/);
    // The resend proposes an order id of its own; the home answers the first.
    expect(await engine.commit(id, payment)).toEqual({ kind: 'confirmed', orderId: committedFirst });
    expect(await orderIdsOf(id, [home, ...others])).toEqual({ records: [committedFirst, committedFirst, committedFirst],
      events: [committedFirst, committedFirst, committedFirst] });
  });

  it('a crash between the home part and the others: a later commit (the recovery\'s, a resend\'s) commits them under the home\'s order id', async () => {
    const { id, home, others } = await payingCart(3);
    refusals.push(commitOn(others[0]!));
    await expect(engine.commit(id, payment)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(refusals).toHaveLength(0);
    const homeOrder = (await internalsOf(engine).holds.recordAt(home, id))!.orderId;
    expect((await internalsOf(engine).holds.recordAt(others[0]!, id))!.status).toBe('paying');
    // A confirm resent meanwhile is told the home's order id.
    expect(await engine.beginPayment(id)).toEqual({ kind: 'confirmed', orderId: homeOrder });
    expect(await engine.commit(id, payment)).toEqual({ kind: 'confirmed', orderId: homeOrder });
    expect(await orderIdsOf(id, [home, ...others])).toEqual({ records: [homeOrder, homeOrder, homeOrder],
      events: [homeOrder, homeOrder, homeOrder] });
  });

  it('eight commits racing (each proposing its own order id) all answer one order id; each part is committed once, under it', async () => {
    for (let round = 0; round < 10; round++) {
      const { id, home, others } = await payingCart(3);
      const answers = await Promise.all(Array.from({ length: 8 }, () => engine.commit(id, payment)));
      const orderId = answers[0]!.kind === 'confirmed' ? answers[0]!.orderId : '(none)';
      expect(answers).toEqual(answers.map(() => ({ kind: 'confirmed', orderId })));
      expect(await orderIdsOf(id, [home, ...others])).toEqual({ records: [orderId, orderId, orderId], events: [orderId, orderId, orderId] });
    }
  });

  it('a hold made before ids were random (old id format) confirms, releases and reads', async () => {
    const [sku] = skusInDistinctPartitions(engine, `old${++n}`, 1);
    await engine.createProduct({ sku: sku!, name: 'old', priceCents: 100, stock: 5 });
    const p = partitionOfSku(sku!);
    const k = internalsOf(engine).ctx.keys.partition(p);
    // reserveHolds as the old code called it: the id "<partition>.<12-character tag><base-36 counter>".
    const hold = async (id: string) => {
      const reply = await internalsOf(engine).ctx.scripts.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
        0, 64, 60_000, 1, 1e6, id, 'u-old', 60_000, '', '', 1, sku!, 1);
      expect((reply as number[]).slice(0, 2)).toEqual([3, 1]);
      return id;
    };
    const bought = await hold(`${p}.0k3m9x2p1qz4${n}`);
    const dropped = await hold(`${p}.0k3m9x2p1qz4${n}z`);
    expect(await engine.getReservation(bought)).toMatchObject({ id: bought, status: 'held', userId: 'u-old' });
    expect(await engine.beginPayment(bought)).toMatchObject({ kind: 'paying' });
    expect(await engine.commit(bought, payment)).toEqual({ kind: 'confirmed', orderId: expect.stringMatching(/^o[a-z2-7]{24}$/) });
    expect(await engine.release(dropped, 'client', 'u-old')).toEqual({ kind: 'released' });
    expect((await engine.getProduct(sku!))!.stock).toEqual({ total: 5, available: 4, reserved: 0, sold: 1 });
  });
});

describe('ownership', () => {
  it('another user\'s hold is not found and stays held; its owner\'s is found and released', async () => {
    const [sku] = skusInDistinctPartitions(engine, `own${++n}`, 1);
    await engine.createProduct({ sku: sku!, name: 'own', priceCents: 100, stock: 5 });
    const held = await engine.reserve({ userId: 'alice', items: [{ sku: sku!, qty: 2 }] });
    if (held.kind !== 'held') throw new Error(held.kind);
    const id = held.reservation.id;
    expect(await engine.getReservation(id, 'mallory')).toBeNull();
    expect(await engine.release(id, 'client', 'mallory')).toEqual({ kind: 'not_found' });
    expect(await engine.getReservation(id, 'alice')).toMatchObject({ id, status: 'held' });
    expect((await engine.getProduct(sku!))!.stock.reserved).toBe(2);
    expect(await engine.release(id, 'client', 'alice')).toEqual({ kind: 'released' });
    expect((await engine.getProduct(sku!))!.stock.reserved).toBe(0);
  });
});
