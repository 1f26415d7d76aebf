import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, partitionOf } from '../index.ts';
import { internalsOf } from '../engine.ts';
import { advanceClock, conserved, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';

// DESIGN §3: every script is safe to run twice with the same arguments (a client
// resends after a dropped connection), and the cart and sweeper edge cases a
// review turned up.
let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine()));
afterAll(() => close());

const keysOf = (sku: string) => internalsOf(engine).ctx.keys.partition(partitionOf(sku, engine.settings.partitions));

describe('scripts run twice with the same arguments', () => {
  it('reserveHolds: the repeat answers "this id exists" and holds nothing more', async () => {
    const [sku] = skusInOnePartition(engine, `rs${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 's', priceCents: 5, stock: 10 });
    const k = keysOf(sku!);
    const p = partitionOf(sku!, engine.settings.partitions);
    const args = [k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox, 4, 64, 60_000, 1, 1e6, `${p}.resendresend01`, 'u', 60_000, 'h1', '', 1, sku!, 3];
    const first = (await internalsOf(engine).ctx.scripts.reserveHolds(...args)) as unknown[];
    const again = (await internalsOf(engine).ctx.scripts.reserveHolds(...args)) as unknown[];
    expect(first.slice(0, 2)).toEqual([3, 1]);
    expect(again).toEqual([4, 2, 1, first[2], 0]);
    expect((await stockOf(engine, sku!)).reserved).toBe(3);
  });

  it('claimKeys: the repeat of a call answers as the call did, not as a replay', async () => {
    const k = internalsOf(engine).ctx.keys.shard(0);
    const args = [k.claims, k.gc, k.meta, 60_000, 2, 'kA', 'fp', '1.idididididida1', 'kB', 'fp', '1.idididididida2'];
    expect(await internalsOf(engine).ctx.scripts.claimKeys(...args)).toEqual([1, '1.idididididida1', 1, '1.idididididida2']);
    expect(await internalsOf(engine).ctx.scripts.claimKeys(...args)).toEqual([1, '1.idididididida1', 1, '1.idididididida2']);
    // Another request (another proposed id) with the same body is a replay.
    expect(await internalsOf(engine).ctx.scripts.claimKeys(k.claims, k.gc, k.meta, 60_000, 1, 'kA', 'fp', '1.idididididida9'))
      .toEqual([2, '1.idididididida1']);
  });

  it('adjustStock and createProduct: an operation id applies once and answers its first reply', async () => {
    const sku = `op${n++}`;
    expect((await internalsOf(engine).products.create({ sku, name: 'x', priceCents: 1, stock: 5 }, 'op-create-1')).kind).toBe('created');
    expect((await internalsOf(engine).products.create({ sku, name: 'x', priceCents: 1, stock: 5 }, 'op-create-1')).kind).toBe('created');
    expect((await internalsOf(engine).products.create({ sku, name: 'x', priceCents: 1, stock: 5 }, 'op-create-2')).kind).toBe('exists');
    const first = await internalsOf(engine).products.adjustStock(sku, 7, 'op-adj-1');
    const again = await internalsOf(engine).products.adjustStock(sku, 7, 'op-adj-1');
    expect(first).toMatchObject({ kind: 'adjusted', product: { stock: { total: 12 } } });
    expect(again).toEqual(first);
    expect((await stockOf(engine, sku)).total).toBe(12);
  });
});

describe('carts: the home part decides', () => {
  async function cart(): Promise<{ id: string; skus: string[] }> {
    const [a] = skusInOnePartition(engine, `hd${n++}`, 1);
    const [b] = skusInOnePartition(engine, `hd${n++}`, 1, partitionOf(a!, engine.settings.partitions));
    await engine.createProduct({ sku: a!, name: 'a', priceCents: 1, stock: 5 });
    await engine.createProduct({ sku: b!, name: 'b', priceCents: 1, stock: 5 });
    const out = await engine.reserve({ userId: 'u', items: [{ sku: a!, qty: 1 }, { sku: b!, qty: 1 }] });
    if (out.kind !== 'held') throw new Error(JSON.stringify(out));
    return { id: out.reservation.id, skus: [a!, b!] };
  }

  it('a declined release and a commit racing: every part ends sold, or every part released, 30 rounds', async () => {
    for (let round = 0; round < 30; round++) {
      const { id, skus } = await cart();
      expect((await engine.beginPayment(id)).kind).toBe('paying');
      const doCommit = () => engine.commit(id, { amountCents: 2, reference: 'r' });
      const doRelease = () => engine.release(id, 'declined');
      const [commit, release] = round % 2
        ? await Promise.all([doCommit(), doRelease()])
        : await Promise.all([doRelease(), doCommit()]).then(([r, c]) => [c, r] as const);
      if (commit.kind === 'confirmed') expect(release).toEqual({ kind: 'confirmed', orderId: commit.orderId });
      else expect([commit, release]).toEqual([{ kind: 'released' }, { kind: 'released' }]);
      const stocks = await Promise.all(skus.map((s) => stockOf(engine, s)));
      const sold = stocks.map((s) => s.sold);
      expect(sold[0]).toBe(sold[1]);
      expect(sold[0]).toBe(commit.kind === 'confirmed' ? 1 : 0);
      for (const s of stocks) expect(s.reserved).toBe(0);
    }
  });

  it('activateCart expires a pending home past its deadline instead of holding it', async () => {
    const [sku] = skusInOnePartition(engine, `ac${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 's', priceCents: 1, stock: 5 });
    const k = keysOf(sku!);
    const p = partitionOf(sku!, engine.settings.partitions);
    const id = `${p}.pastduepastdue1`;
    await internalsOf(engine).ctx.scripts.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox, 0, 64, 60_000, 1, 1e6, id, 'u', 1_000, 'p0', `${p}`, 1, sku!, 2);
    await advanceClock(engine, 1_000);
    expect(await internalsOf(engine).holds.activateCart(id, p)).toBe(false);
    expect(await stockOf(engine, sku!)).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
  });

  it('beginPayment keeps the expires_at the client was told, and answers the payment deadline', async () => {
    const [sku] = skusInOnePartition(engine, `bp${n++}`, 1);
    await engine.createProduct({ sku: sku!, name: 's', priceCents: 1, stock: 5 });
    const out = await engine.reserve({ userId: 'u', items: [{ sku: sku!, qty: 1 }], ttlMs: 5_000 });
    if (out.kind !== 'held') throw new Error('expected held');
    const begun = await engine.beginPayment(out.reservation.id);
    expect(begun.kind === 'paying' && begun.deadlineMs).toBeGreaterThan(out.reservation.expiresAtMs);
    expect(await engine.beginPayment(out.reservation.id)).toEqual(begun);
    expect((await engine.getReservation(out.reservation.id))?.expiresAtMs).toBe(out.reservation.expiresAtMs);
  });
});

describe('sweeper at scale', () => {
  it('drains a burst of due groups in one pass, and purges groups larger than unpack() takes', async () => {
    const { engine: big, close: closeBig } = testEngine({ partitions: 1, keyShards: 1, batchSizeMax: 1024, expireWorkMax: 5_000, inflightMax: 100_000 });
    try {
      await big.createProduct({ sku: 'burst', name: 'b', priceCents: 1, stock: 100_000 });
      // A TTL long enough that no hold falls due while a loaded machine is still making them
      // (each reserve call expires due holds it meets); the clock is then moved past it.
      const ttlMs = 600_000;
      for (let call = 0; call < 10; call++) {
        await Promise.all(Array.from({ length: 1024 }, (_, i) =>
          big.reserve({ userId: `u${call}-${i}`, items: [{ sku: 'burst', qty: 1 }], ttlMs })));
      }
      for (let call = 0; call < 20; call++) await big.reserve({ userId: 'tail', items: [{ sku: 'burst', qty: 1 }], ttlMs });
      expect((await stockOf(big, 'burst')).reserved).toBe(10_260);
      await advanceClock(big, ttlMs);
      const report = await big.sweepOnce();
      expect(report).toMatchObject({ expired: 10_260, stillDue: 0, failed: 0 });
      const stock = await stockOf(big, 'burst');
      expect(stock).toEqual({ total: 100_000, available: 100_000, reserved: 0, sold: 0 });
      expect(conserved(stock)).toBe(true);
      await advanceClock(big, internalsOf(big).ctx.recordRetentionMs);
      const purge = await big.sweepOnce();
      expect(purge.failed).toBe(0);
      expect(await internalsOf(big).ctx.redis.hlen(internalsOf(big).ctx.keys.partition(0).holds)).toBe(0);
    } finally {
      await closeBig();
    }
  });
});
