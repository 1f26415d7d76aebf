import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, partitionOf } from '../index.ts';
import { Code } from './codes.ts';
import { internalsOf } from '../engine.ts';
import { advanceClock, conserved, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';

// One test per script outcome code, against the real scripts in a real Redis.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;
const sku = () => `s${++n}`;

beforeAll(() => ({ engine, close } = testEngine()));
afterAll(() => close());

async function product(stock = 10, perUserLimit = 0, priceCents = 250) {
  const s = sku();
  const created = await engine.createProduct({ sku: s, name: `Product ${s}`, priceCents, stock, perUserLimit });
  expect(created.kind).toBe('created');
  return s;
}

async function hold(s: string, qty = 1, userId = 'u1', ttlMs?: number) {
  const out = await engine.reserve({ userId, items: [{ sku: s, qty }], ttlMs });
  if (out.kind !== 'held') throw new Error(`expected held, got ${JSON.stringify(out)}`);
  return out.reservation;
}

const payment = { amountCents: 250, reference: 'ch_1' };

describe('createProduct', () => {
  it('1: creates with all stock available and appends a product event', async () => {
    const s = await product(7, 2, 199);
    const p = await engine.getProduct(s);
    expect(p).toEqual({ sku: s, name: `Product ${s}`, priceCents: 199, perUserLimit: 2,
      stock: { total: 7, available: 7, reserved: 0, sold: 0 } });
  });
  it('-20: refuses a sku that exists and changes nothing', async () => {
    const s = await product(3);
    expect(await engine.createProduct({ sku: s, name: 'other', priceCents: 1, stock: 99 })).toEqual({ kind: 'exists' });
    expect((await engine.getProduct(s))?.stock.total).toBe(3);
  });
});

describe('adjustStock', () => {
  it('1: restocks and shrinks', async () => {
    const s = await product(5);
    expect(await engine.adjustStock(s, 5)).toMatchObject({ kind: 'adjusted', product: { stock: { total: 10, available: 10 } } });
    expect(await engine.adjustStock(s, -8)).toMatchObject({ kind: 'adjusted', product: { stock: { total: 2, available: 2 } } });
  });
  it('-3: unknown sku', async () => {
    expect(await engine.adjustStock('nope-nope', 1)).toEqual({ kind: 'not_found' });
  });
  it('-21: a shrink never takes available below zero (reserved units are not shrinkable)', async () => {
    const s = await product(5);
    await hold(s, 3);
    expect(await engine.adjustStock(s, -3)).toEqual({ kind: 'would_go_negative', available: 2 });
    const stock = await stockOf(engine, s);
    expect(stock).toEqual({ total: 5, available: 2, reserved: 3, sold: 0 });
  });
});

describe('reserveHolds', () => {
  it('1: holds units, prices the lines and sets the deadline from Redis time', async () => {
    const s = await product(10, 0, 300);
    const r = await hold(s, 4, 'u1', 60_000);
    expect(r.items).toEqual([{ sku: s, qty: 4, priceCents: 300 }]);
    expect(r.totalCents).toBe(1200);
    expect(Math.abs(r.expiresAtMs - (Date.now() + 60_000))).toBeLessThan(5_000);
    expect(await stockOf(engine, s)).toEqual({ total: 10, available: 6, reserved: 4, sold: 0 });
  });
  it('2: a replay with the same key answers the first outcome and holds nothing more', async () => {
    const s = await product(10);
    const req = { userId: 'u1', items: [{ sku: s, qty: 2 }], idempotencyKey: `k-${s}` };
    const first = await engine.reserve(req);
    const again = await engine.reserve(req);
    expect(first.kind).toBe('held');
    expect(again).toEqual({ kind: 'duplicate', of: first });
    expect((await stockOf(engine, s)).reserved).toBe(2);
  });
  it('-1: out of stock names the sku and what is available', async () => {
    const s = await product(3);
    expect(await engine.reserve({ userId: 'u', items: [{ sku: s, qty: 4 }] })).toEqual({ kind: 'out_of_stock', sku: s, available: 3 });
    expect(await stockOf(engine, s)).toEqual({ total: 3, available: 3, reserved: 0, sold: 0 });
  });
  it('-2: the per-user limit counts held units', async () => {
    const s = await product(10, 3);
    await hold(s, 2, 'alice');
    expect(await engine.reserve({ userId: 'alice', items: [{ sku: s, qty: 2 }] })).toEqual({ kind: 'per_user_limit', sku: s, limit: 3 });
    await hold(s, 1, 'alice');
    await hold(s, 3, 'bob');
  });
  it('-3: an unknown product', async () => {
    expect(await engine.reserve({ userId: 'u', items: [{ sku: 'ghost', qty: 1 }] })).toEqual({ kind: 'not_found', sku: 'ghost' });
  });
  it('a multi-line request of one partition is all or nothing', async () => {
    const [a, b] = skusInOnePartition(engine, `ml${n++}`, 2);
    await engine.createProduct({ sku: a!, name: 'a', priceCents: 1, stock: 5 });
    await engine.createProduct({ sku: b!, name: 'b', priceCents: 1, stock: 1 });
    expect(await engine.reserve({ userId: 'u', items: [{ sku: a!, qty: 2 }, { sku: b!, qty: 2 }] }))
      .toEqual({ kind: 'out_of_stock', sku: b, available: 1 });
    expect((await stockOf(engine, a!)).available).toBe(5);
  });
  it('reclaims due holds of its partition before reserving', async () => {
    const [a, b] = skusInOnePartition(engine, `rc${n++}`, 2);
    await engine.createProduct({ sku: a!, name: 'a', priceCents: 1, stock: 1 });
    await engine.createProduct({ sku: b!, name: 'b', priceCents: 1, stock: 1 });
    const r = await hold(a!, 1, 'u', 1_000);
    await advanceClock(engine, 1_000);
    expect((await stockOf(engine, a!)).reserved).toBe(1); // nothing has run yet
    await hold(b!, 1);
    expect(await stockOf(engine, a!)).toEqual({ total: 1, available: 1, reserved: 0, sold: 0 });
    expect((await engine.getReservation(r.id))?.status).toBe('expired');
  });
});

describe('claimKeys', () => {
  const claim = (key: string, fp: string, id: string) => {
    const k = internalsOf(engine).ctx.keys.shard(0);
    return internalsOf(engine).ctx.scripts.claimKeys(k.claims, k.gc, k.meta, 60_000, 1, key, fp, id) as Promise<unknown[]>;
  };
  it('1, 2, -4: claims, finds the same body, refuses another body', async () => {
    expect(await claim('ck', 'fpA', 'id1')).toEqual([1, 'id1']);
    expect(await claim('ck', 'fpA', 'id2')).toEqual([2, 'id1']);
    expect(await claim('ck', 'fpB', 'id3')).toEqual([Code.KEY_REUSED, '']);
  });
  it('-4 through the engine: the same key with another body, even in another partition', async () => {
    const [a] = skusInOnePartition(engine, `kr${n++}`, 1);
    const [b] = skusInOnePartition(engine, `kr${n++}`, 1, partitionOf(a!, engine.settings.partitions));
    await engine.createProduct({ sku: a!, name: 'a', priceCents: 1, stock: 5 });
    await engine.createProduct({ sku: b!, name: 'b', priceCents: 1, stock: 5 });
    const key = `reuse-${n}`;
    expect((await engine.reserve({ userId: 'u', items: [{ sku: a!, qty: 1 }], idempotencyKey: key })).kind).toBe('held');
    expect(await engine.reserve({ userId: 'u', items: [{ sku: b!, qty: 1 }], idempotencyKey: key })).toEqual({ kind: 'key_reused' });
    expect(await engine.reserve({ userId: 'u', items: [{ sku: a!, qty: 2 }], idempotencyKey: key })).toEqual({ kind: 'key_reused' });
    expect((await stockOf(engine, b!)).reserved).toBe(0);
    expect((await stockOf(engine, a!)).reserved).toBe(1);
  });
  it('a rejection is recorded: its replay answers the same even after stock returns', async () => {
    const s = await product(1);
    const req = { userId: 'u', items: [{ sku: s, qty: 2 }], idempotencyKey: `rej-${s}` };
    const first = await engine.reserve(req);
    expect(first).toEqual({ kind: 'out_of_stock', sku: s, available: 1 });
    await engine.adjustStock(s, 5);
    expect(await engine.reserve(req)).toEqual({ kind: 'duplicate', of: first });
    expect((await stockOf(engine, s)).reserved).toBe(0);
  });
});

describe('beginPayment', () => {
  it('1: held -> paying, deadline extended; a repeat answers the same', async () => {
    const s = await product(5);
    const r = await hold(s, 2, 'u', 1_000);
    const first = await engine.beginPayment(r.id);
    expect(first).toMatchObject({ kind: 'paying', totalCents: 500 });
    expect((first as { deadlineMs: number }).deadlineMs).toBeGreaterThan(r.expiresAtMs);
    expect(await engine.beginPayment(r.id)).toEqual(first);
    await advanceClock(engine, 5_000); // past the hold's own TTL: a paying hold does not expire
    await engine.sweepOnce();
    expect((await engine.getReservation(r.id))?.status).toBe('paying');
    expect((await stockOf(engine, s)).reserved).toBe(2);
  });
  it('-10: no such hold', async () => {
    expect(await engine.beginPayment('3.aaaaaaaaaaaaaaaa')).toEqual({ kind: 'not_found' });
    expect(await engine.beginPayment('not an id')).toEqual({ kind: 'not_found' });
  });
  it('-11: a hold past its deadline is expired on the spot and its units return', async () => {
    const s = await product(5);
    const r = await hold(s, 2, 'u', 1_000);
    await advanceClock(engine, 1_001);
    expect(await engine.beginPayment(r.id)).toEqual({ kind: 'expired' });
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
  });
  it('-12, -13: released and confirmed holds', async () => {
    const s = await product(5);
    const a = await hold(s);
    await engine.release(a.id);
    expect(await engine.beginPayment(a.id)).toEqual({ kind: 'released' });
    const b = await hold(s);
    await engine.beginPayment(b.id);
    const c = await engine.commit(b.id, payment);
    expect(await engine.beginPayment(b.id)).toEqual({ kind: 'confirmed', orderId: (c as { orderId: string }).orderId });
  });
  it('-14: a cart still being reserved', async () => {
    const s = await product(5);
    const id = await pendingCartHome(s);
    expect(await engine.beginPayment(id)).toEqual({ kind: 'in_progress' });
  });
});

/** A home part left pending, as a crashed multi-partition reserve would leave it. */
async function pendingCartHome(s: string): Promise<string> {
  const p = partitionOf(s, engine.settings.partitions);
  const k = internalsOf(engine).ctx.keys.partition(p);
  const id = `${p}.pendingpending${n++}`;
  const reply = await internalsOf(engine).ctx.scripts.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
    0, 64, 60_000, 1, 1e6, id, 'u', 60_000, 'p0', `${p},${(p + 1) % engine.settings.partitions}`, 1, s, 1);
  expect((reply as number[]).slice(0, 2)).toEqual([3, 1]); // 3 values follow: held, deadline, price
  return id;
}

describe('commitHold', () => {
  it('1: paying -> confirmed, reserved -> sold, one outbox event; a repeat changes nothing', async () => {
    const s = await product(5);
    const r = await hold(s, 2);
    await engine.beginPayment(r.id);
    const outbox = internalsOf(engine).ctx.keys.partition(partitionOf(s, engine.settings.partitions)).outbox;
    const before = await internalsOf(engine).ctx.redis.xlen(outbox);
    const first = await engine.commit(r.id, payment);
    expect(first).toEqual({ kind: 'confirmed', orderId: expect.stringMatching(/^o[a-z2-7]{24}$/) });
    expect(await engine.commit(r.id, payment)).toEqual(first);
    expect(await internalsOf(engine).ctx.redis.xlen(outbox)).toBe(before + 1);
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 3, reserved: 0, sold: 2 });
    expect((await engine.getReservation(r.id))?.status).toBe('confirmed');
  });
  it('-10, -12, -16: unknown, released, and held without a payment begun', async () => {
    const s = await product(5);
    expect(await engine.commit('1.zzzzzzzzzzzzzzz', payment)).toEqual({ kind: 'not_found' });
    const a = await hold(s);
    expect(await engine.commit(a.id, payment)).toEqual({ kind: 'payment_not_begun' });
    await engine.release(a.id);
    expect(await engine.commit(a.id, payment)).toEqual({ kind: 'released' });
    expect((await stockOf(engine, s)).sold).toBe(0);
  });
  it('-14: a cart still being reserved is neither committed nor released by a client', async () => {
    const s = await product(5);
    const id = await pendingCartHome(s);
    expect(await engine.commit(id, payment)).toEqual({ kind: 'in_progress' });
    expect(await engine.release(id)).toEqual({ kind: 'in_progress' });
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 4, reserved: 1, sold: 0 });
  });
  it('-11: an expired hold is never sold', async () => {
    const s = await product(5);
    const a = await hold(s, 1, 'u', 1_000);
    await advanceClock(engine, 2_000);
    await engine.sweepOnce();
    expect(await engine.commit(a.id, payment)).toEqual({ kind: 'expired' });
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
  });
});

describe('releaseHold', () => {
  it('1: held -> released, units back at once; a repeat answers the same', async () => {
    const s = await product(5, 2);
    const r = await hold(s, 2, 'carol');
    expect(await engine.release(r.id)).toEqual({ kind: 'released' });
    expect(await engine.release(r.id)).toEqual({ kind: 'released' });
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
    await hold(s, 2, 'carol'); // the per-user allowance came back too
  });
  it('-15: a client cannot release a hold whose payment is in progress; the saga can', async () => {
    const s = await product(5);
    const r = await hold(s, 2);
    await engine.beginPayment(r.id);
    expect(await engine.release(r.id)).toEqual({ kind: 'payment_in_progress' });
    expect(await engine.release(r.id, 'declined')).toEqual({ kind: 'released' });
    expect((await stockOf(engine, s)).available).toBe(5);
  });
  it('-10, -11, -13: unknown, expired, confirmed', async () => {
    const s = await product(5);
    expect(await engine.release('2.qqqqqqqqqqqqqqq')).toEqual({ kind: 'not_found' });
    const a = await hold(s, 1, 'u', 1_000);
    await advanceClock(engine, 1_000);
    expect(await engine.release(a.id)).toEqual({ kind: 'expired' });
    const b = await hold(s);
    await engine.beginPayment(b.id);
    const committed = await engine.commit(b.id, payment);
    expect(await engine.release(b.id)).toEqual(committed);
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 4, reserved: 0, sold: 1 });
  });
});

describe('beginPayment past its deadline', () => {
  it('-17: a paying hold past its payment deadline begins no charge; its units stay reserved for the recovery', async () => {
    const s = await product(5);
    const r = await hold(s, 2, 'u', 1_000);
    const begun = await engine.beginPayment(r.id);
    if (begun.kind !== 'paying') throw new Error(begun.kind);
    await advanceClock(engine, begun.deadlineMs - r.expiresAtMs + 1_000);
    expect(await engine.beginPayment(r.id)).toEqual({ kind: 'payment_overdue' });
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 3, reserved: 2, sold: 0 });
    expect(await internalsOf(engine).holds.overduePayments(partitionOf(s, engine.settings.partitions), 10)).toContain(r.id);
  });
});

describe('releaseHold: why and when', () => {
  const releaseHold = (s: string, id: string, mode: string) => {
    const k = internalsOf(engine).ctx.keys.partition(partitionOf(s, engine.settings.partitions));
    return internalsOf(engine).ctx.scripts.releaseHold(k.skus, k.holds, k.paying, k.users, k.gc, k.meta, k.voided, id, mode, 0, '', 0, 60_000, 60_000);
  };
  it('1 voided: a paying hold is released and notes why (a repeat of confirm answers it)', async () => {
    const s = await product(5);
    const r = await hold(s, 2);
    await engine.beginPayment(r.id);
    expect(await engine.release(r.id, 'voided')).toEqual({ kind: 'released' });
    expect((await internalsOf(engine).holds.find(r.id))?.record.reason).toBe('voided');
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
  });
  it('-16 abandon: a single hold stays (a retry with its key finds it); abandon-any gives it back', async () => {
    const s = await product(5);
    const r = await hold(s, 2);
    expect(await releaseHold(s, r.id, 'abandon')).toEqual([Code.HELD]);
    expect((await stockOf(engine, s)).reserved).toBe(2);
    expect(await releaseHold(s, r.id, 'abandon-any')).toEqual([Code.OK, '']);
    expect(await stockOf(engine, s)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
  });
  it('1 abandon of an id never reserved: a tombstone, so a late resend of its reserve holds nothing', async () => {
    const s = await product(5);
    const p = partitionOf(s, engine.settings.partitions);
    const k = internalsOf(engine).ctx.keys.partition(p);
    const id = `${p}.lateresendlate${n}`;
    expect(await releaseHold(s, id, 'abandon')).toEqual([Code.OK, '']);
    const late = await internalsOf(engine).ctx.scripts.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
      0, 64, 60_000, 1, 1e6, id, 'u', 60_000, 'h1', '', 1, s, 2) as unknown[];
    expect(late.slice(0, 3)).toEqual([4, Code.DUPLICATE, 1]);
    expect((await stockOf(engine, s)).reserved).toBe(0);
  });
});

describe('recordRefund', () => {
  const record = (s: string, id: string) => {
    const k = internalsOf(engine).ctx.keys.partition(partitionOf(s, engine.settings.partitions));
    return internalsOf(engine).ctx.scripts.recordRefund(k.holds, k.outbox, k.meta, id, 250, 're_1', 'test');
  };
  it('1: notes the refund on a released hold and appends one refund event; a repeat appends nothing', async () => {
    const s = await product(5);
    const r = await hold(s);
    await engine.release(r.id);
    const outbox = internalsOf(engine).ctx.keys.partition(partitionOf(s, engine.settings.partitions)).outbox;
    const before = await internalsOf(engine).ctx.redis.xlen(outbox);
    expect(await record(s, r.id)).toEqual([1]);
    expect(await record(s, r.id)).toEqual([1]);
    expect(await internalsOf(engine).ctx.redis.xlen(outbox)).toBe(before + 1);
    expect((await internalsOf(engine).holds.find(r.id))?.record.reason).toBe('refunded');
  });
  it('-13, -16: a confirmed hold or a live one is never refunded here', async () => {
    const s = await product(5);
    const live = await hold(s);
    expect(await record(s, live.id)).toEqual([Code.HELD]);
    const bought = await hold(s);
    await engine.beginPayment(bought.id);
    const committed = await engine.commit(bought.id, payment);
    expect(await record(s, bought.id)).toEqual([Code.CONFIRMED, committed.kind === 'confirmed' && committed.orderId]);
  });
});

describe('activateCart', () => {
  const activate = (id: string, s: string) => {
    const k = internalsOf(engine).ctx.keys.partition(partitionOf(s, engine.settings.partitions));
    return internalsOf(engine).ctx.scripts.activateCart(k.skus, k.holds, k.users, k.gc, k.meta, id, 60_000) as Promise<number[]>;
  };
  it('1: pending -> held; a repeat answers the same', async () => {
    const s = await product(5);
    const id = await pendingCartHome(s);
    const first = await activate(id, s);
    expect(first[0]).toBe(1);
    expect(await activate(id, s)).toEqual(first);
  });
  it('-10, -11: unknown and expired', async () => {
    const s = await product(5);
    expect(await activate('0.nothingnothing', s)).toEqual([Code.NOT_FOUND]);
    const id = await pendingCartHome(s);
    await advanceClock(engine, 60_000);
    await engine.sweepOnce();
    expect(await activate(id, s)).toEqual([Code.EXPIRED]);
    expect((await stockOf(engine, s)).available).toBe(5);
  });
});

describe('parkEntries', () => {
  it('1, 0: moves an outbox entry to the parked stream with its id and reason, once', async () => {
    const s = await product(1);
    const p = partitionOf(s, engine.settings.partitions);
    const k = internalsOf(engine).ctx.keys.partition(p);
    const events = await internalsOf(engine).ctx.redis.xrangeBuffer(k.outbox, '-', '+') as unknown as [Buffer, Buffer[]][];
    const [id, fields] = events.at(-1)!; // the product event just appended
    const entry = { streamId: id.toString(), eventId: `${p}:${id}`, event: null, problem: '' };
    expect(await engine.outbox.park(p, entry, '23503 no such product')).toBe(true);
    expect(await engine.outbox.park(p, entry, '23503 no such product')).toBe(false); // a repeat parks nothing more
    expect(await internalsOf(engine).ctx.redis.xrange(k.outbox, entry.streamId, entry.streamId)).toEqual([]);
    const parked = await internalsOf(engine).ctx.redis.xrangeBuffer(k.parked, '-', '+') as unknown as [Buffer, Buffer[]][];
    expect(parked).toHaveLength(1);
    expect(parked[0]![1].map(String)).toEqual(['e', fields[1]!.toString(), 'src', entry.streamId, 'reason', '23503 no such product']);
    expect(parked[0]![1][1]).toEqual(fields[1]); // the event's bytes, unchanged
    const [again] = await engine.outbox.readParked(p, null, 10);
    expect(again).toMatchObject({ eventId: entry.eventId, streamId: parked[0]![0].toString(), event: { t: 'product', sku: s } });
  });
});

describe('expireHolds and purgeRecords', () => {
  it('expire a bounded batch, report what is still due, then purge after retention', async () => {
    const { engine: small, close: closeSmall } = testEngine({ partitions: 1, keyShards: 1, expireWorkMax: 6, idempotencyRetentionMs: 1_000 });
    try {
      await small.createProduct({ sku: 'x', name: 'x', priceCents: 1, stock: 10 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const out = await small.reserve({ userId: `u${i}`, items: [{ sku: 'x', qty: 1 }], ttlMs: 1_000, idempotencyKey: `e${i}` });
        if (out.kind === 'held') ids.push(out.reservation.id);
      }
      await advanceClock(small, 1_000);
      expect(await internalsOf(small).sweeper.expirePartition(0)).toEqual({ expired: 3, stillDue: 1 }); // one SKU still has due holds
      expect(await internalsOf(small).sweeper.expirePartition(0)).toEqual({ expired: 2, stillDue: 0 });
      expect(await stockOf(small, 'x')).toEqual({ total: 10, available: 10, reserved: 0, sold: 0 });
      expect(await internalsOf(small).sweeper.purgePartition(0)).toBe(0); // kept for the retention window
      await advanceClock(small, internalsOf(small).ctx.recordRetentionMs);
      expect(await internalsOf(small).sweeper.purgePartition(0)).toBe(6); // the 5 holds and createProduct's operation record
      expect(await internalsOf(small).sweeper.purgeShard(0)).toBe(5);
      expect(await small.getReservation(ids[0]!)).toBeNull();
    } finally {
      await closeSmall();
    }
  });
  it('every outbox event the scripts appended above decodes', async () => {
    const types = new Set<string>();
    for (let p = 0; p < engine.settings.partitions; p++) {
      for (const entry of await engine.outbox.read(p, 1_000)) {
        expect(entry.event, entry.event ? '' : `${entry.eventId} ${entry.problem}`).not.toBeNull();
        types.add(entry.event!.t);
      }
    }
    expect([...types].sort()).toEqual(['order', 'product', 'refund', 'stock']);
  });
  it('conservation holds after all of the above', async () => {
    for (let i = 1; i <= n; i++) {
      const p = await engine.getProduct(`s${i}`);
      if (p) expect(conserved(p.stock), `s${i}`).toBe(true);
    }
  });
});

describe('-30: a fenced partition (lua/includes/fence.lua) grants nothing, in every granting script', () => {
  // Straight at the scripts: each refuses with [-30, reason] and changes nothing.
  const scriptsOf = () => internalsOf(engine).ctx.scripts;
  async function fencedPartitionWith(reason: 'fenced' | 'empty' | 'unchecked') {
    const s = await product(5);
    const held = await hold(s, 1);
    const p = partitionOf(s, engine.settings.partitions);
    const k = internalsOf(engine).ctx.keys.partition(p);
    const before = await internalsOf(engine).ctx.redis.hgetall(k.meta);
    if (reason === 'fenced') await internalsOf(engine).ctx.redis.hset(k.meta, 'fenced', 'test');
    if (reason === 'empty') await internalsOf(engine).ctx.redis.hdel(k.meta, 'init');
    if (reason === 'unchecked') await internalsOf(engine).ctx.redis.hset(k.meta, 'ck', 'other');
    const restore = () => internalsOf(engine).ctx.redis.hset(k.meta, before).then(() => internalsOf(engine).ctx.redis.hdel(k.meta, 'fenced'));
    return { s, k, id: held.id, restore, want: reason === 'fenced' ? 'test' : reason };
  }
  for (const reason of ['fenced', 'empty', 'unchecked'] as const) {
    it(`-30 ${reason}: reserveHolds, adjustStock, createProduct, beginPayment, commitHold`, async () => {
      const { s, k, id, restore, want } = await fencedPartitionWith(reason);
      try {
        const x = scriptsOf();
        expect(await x.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox, 100, 100, 1000, 2, 1000,
          'r1', 'u', 60_000, 'h0', '', 1, s, 1, 'r2', 'u', 60_000, 'h0', '', 1, s, 1)).toEqual([3, Code.FENCED, want, 0, 3, Code.FENCED, want, 0]);
        expect(await x.adjustStock(k.skus, k.holds, k.gc, k.outbox, k.meta, s, 1, '', 1000)).toEqual([Code.FENCED, want]);
        expect(await x.createProduct(k.skus, k.holds, k.gc, k.outbox, k.meta, `${s}n`, 'n', 1, 0, 1, '', 1000)).toEqual([Code.FENCED, want]);
        expect(await x.beginPayment(k.skus, k.holds, k.paying, k.users, k.gc, k.meta, id, 60_000, 1000)).toEqual([Code.FENCED, want]);
        expect(await x.commitHold(k.skus, k.holds, k.paying, k.gc, k.outbox, k.meta, id, 'o1', 100, 'ch', 1000)).toEqual([Code.FENCED, want]);
      } finally {
        await restore();
      }
      expect(await stockOf(engine, s)).toEqual({ total: 5, available: 4, reserved: 1, sold: 0 });
    });
  }
  it('checkFence 1/-30, setFence -30, liftFence 1/-30', async () => {
    const s = await product(2);
    const k = internalsOf(engine).ctx.keys.partition(partitionOf(s, engine.settings.partitions));
    const x = scriptsOf();
    const seq = Number(await internalsOf(engine).ctx.redis.hget(k.meta, 'seq'));
    expect(await x.checkFence(k.meta, k.skus, 0, '1', 1, '-')).toEqual([1, 'ok', seq]);
    // A redis-server not checked since it started: a caller that compares captures is asked to, first.
    const runId = /run_id:(\w+)/.exec(await internalsOf(engine).ctx.redis.info('server'))![1]!;
    await internalsOf(engine).ctx.redis.hset(k.meta, 'ck', 'an-older-run');
    expect(await x.checkFence(k.meta, k.skus, 0, '1', 1, '')).toEqual([1, 'restarted', seq, runId]);
    expect(await x.checkFence(k.meta, k.skus, 0, '1', 1, 'another-run')).toEqual([1, 'restarted', seq, runId]);
    expect(await internalsOf(engine).ctx.redis.hget(k.meta, 'ck')).toBe('an-older-run');
    expect(await x.checkFence(k.meta, k.skus, 0, '1', 1, runId)).toEqual([1, 'ok', seq]);
    expect(await internalsOf(engine).ctx.redis.hget(k.meta, 'ck')).toBe(runId);
    expect(await x.checkFence(k.meta, k.skus, 0, '1', 1, '')).toEqual([1, 'ok', seq]);
    await internalsOf(engine).ctx.redis.hset(k.meta, 'ck', 'an-older-run');
    expect(await x.checkFence(k.meta, k.skus, 0, '1', 1, '-')).toEqual([1, 'ok', seq]);
    expect(await x.checkFence(k.meta, k.skus, seq + 5, '1', 1, '')).toEqual([Code.FENCED, 'behind', seq + 5]);
    expect(await x.setFence(k.meta, 'later')).toEqual([Code.FENCED, 'behind']);
    expect(await x.liftFence(k.meta, seq + 7, '0', 1)).toEqual([1, seq + 7]);
    expect(await x.setFence(k.meta, 'by hand')).toEqual([Code.FENCED, 'by hand']);
    await internalsOf(engine).ctx.redis.hdel(k.meta, 'init');
    expect(await x.liftFence(k.meta, seq + 7, '0', 1)).toEqual([Code.FENCED, 'empty']);
    expect(await x.liftFence(k.meta, 3, '1', 1)).toEqual([1, seq + 7]);
    expect(await internalsOf(engine).ctx.redis.hmget(k.meta, 'init', 'fenced', 'seq')).toEqual(['1', null, String(seq + 7)]);
  });
});
