import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fulfilsWithin, partitionOf } from '../engine/index.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis, type LocalRedis } from '../services/redis.ts';
import { rebuildFromRecord } from '../cli/rebuild.ts';
import { repair } from '../reconciler/repair.ts';
import { verify } from '../reconciler/verify.ts';
import { startWorkers } from '../workers/run.ts';
import type { WriteThrough } from '../workers/writethrough.ts';
import { call, freshDatabase, testApi, waitFor, type TestApi } from './support/api.ts';

// Fencing (DESIGN.md §3) against real processes: a redis-server of this file's
// own (it is wiped, killed and rolled back), the suite's PostgreSQL, BullMQ
// write-through. A Redis behind PostgreSQL grants nothing until the stores agree.
const redisDir = mkdtempSync(join(tmpdir(), 'stockade-fence-redis-'));
let server: LocalRedis;
let api: TestApi;
let n = 0;

beforeAll(async () => {
  // appendfsync always: a copy of the AOF dir holds every write acknowledged before it.
  server = await startRedis({ dir: redisDir, port: await freePort(), appendfsync: 'always' });
  api = await testApi({ redisUrl: server.url, databaseUrl: await freshDatabase(), workers: { pollMs: 20 } });
}, 120_000);
afterAll(async () => {
  await fulfilsWithin(api?.close() ?? Promise.resolve(), 30_000);
  await stopRedis(redisDir);
}, 60_000);

/** count SKUs, each in a partition no other test here used (a fence of one test must not reach another's). */
const usedPartitions = new Set<number>();
function skusInDistinctPartitions(_engine: unknown, prefix: string, count: number): string[] {
  const skus: string[] = [];
  for (let i = 0; skus.length < count; i++) {
    const p = partitionOf(`${prefix}${i}`, api.runtime.engine.settings.partitions);
    if (usedPartitions.has(p)) continue;
    usedPartitions.add(p);
    skus.push(`${prefix}${i}`);
  }
  return skus;
}

const req = (method: string, path: string, o: Parameters<typeof call>[3] = {}) => call(api.url, method, path, o);
const drained = () => waitFor(async () => (await api.writeThrough!.backlog()) === 0, 30_000, 'outbox drained');

async function product(sku: string, stock: number, perUserLimit = 0): Promise<void> {
  const r = await req('POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock, per_user_limit: perUserLimit } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

async function hold(sku: string, qty: number, user = `u${++n}`) {
  return req('POST', '/v1/reservations', { body: { user_id: user, items: [{ sku, qty }] }, headers: { 'idempotency-key': `f-${++n}` } });
}

/** A confirmed order: its id. */
async function buy(sku: string, qty: number, user?: string): Promise<string> {
  const held = await hold(sku, qty, user);
  expect(held.status, JSON.stringify(held.body)).toBe(201);
  const confirmed = await req('POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  return confirmed.body.order_id;
}

async function soldInPostgres(sku: string): Promise<number> {
  const [row] = await api.runtime.sql`select coalesce(sum(qty), 0)::int as sold from order_items where sku = ${sku}`;
  return row!.sold as number;
}

async function admin<T>(work: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(server.adminUrl, { maxRetriesPerRequest: 2 });
  try {
    return await work(r);
  } finally {
    r.disconnect();
  }
}

/** cp -a: owners and modes kept (as root, redis-server runs as its own user and must read its files). */
const copyDir = (from: string, to: string) => execFileSync('cp', ['-a', from, to]);

/** kill -9 of redis-server, and its AOF replaced by the copy's (an older state of it). */
async function killAndRollBack(copy: string): Promise<void> {
  process.kill(server.pid, 'SIGKILL');
  await waitFor(async () => {
    try { process.kill(server.pid, 0); return false; } catch { return true; }
  }, 10_000, 'redis-server gone');
  rmSync(join(redisDir, 'appendonlydir'), { recursive: true, force: true });
  copyDir(join(copy, 'appendonlydir'), join(redisDir, 'appendonlydir'));
}

/** redis-server started again (from the older AOF), and the partition seen fenced behind PostgreSQL. */
async function restartFenced(partition: number): Promise<void> {
  server = await startRedis({ dir: redisDir, port: server.port, appendfsync: 'always' });
  const engine = api.runtime.engine;
  await waitFor(async () => (await engine.fences().catch(() => null))?.[partition]?.fenced === 'behind', 30_000, 'the partition fenced');
}

const isFenced = (a: { status: number; body: any; headers: Headers }) =>
  a.status === 503 && a.body?.type === '/problems/fenced' && Number(a.headers.get('retry-after')) >= 1;

describe('FLUSHALL after confirmed orders were written through', () => {
  it('refuses holds and reads (503 fenced, no unit sold twice); rebuild restores the stock; selling resumes; every order is readable', async () => {
    const [a, b] = skusInDistinctPartitions(api.runtime.engine, 'FL', 2);
    await product(a!, 5, 2);
    await product(b!, 3);
    const orders = [await buy(a!, 2, 'alice'), await buy(a!, 1), await buy(b!, 3)];
    await drained();

    await admin((r) => r.flushall());
    const refused = await hold(a!, 1);
    expect(isFenced(refused), JSON.stringify(refused.body)).toBe(true);
    expect(isFenced(await hold(b!, 1))).toBe(true);
    expect(isFenced(await req('GET', `/v1/products/${a}`))).toBe(true);
    expect(isFenced(await req('POST', `/v1/products/${a}/stock`, { token: 'admin', body: { delta: 5 } }))).toBe(true);
    await waitFor(async () => (await req('GET', '/readyz', { token: 'admin' })).body.reasons?.includes('fenced'), 20_000, '/readyz fenced');
    // verify names it: a's partition is fenced (empty), and PostgreSQL's products are missing in Redis.
    const broken = await verify(api.runtime);
    expect(broken.ok).toBe(false);
    expect(broken.violations).toContainEqual(expect.objectContaining({ kind: 'fenced', partition: partitionOf(a!, api.runtime.engine.settings.partitions), found: 'empty' }));
    expect(broken.violations).toContainEqual(expect.objectContaining({ kind: 'missing_in_redis', sku: a }));

    const summary = await rebuildFromRecord(api.runtime.engine, api.runtime.sql, {});
    const healed = await verify(api.runtime);
    expect(healed.violations.filter((v) => v.kind === 'fenced' || v.sku === a || v.sku === b)).toEqual([]);
    expect(summary.products).toBe(2);
    expect(summary.partitions.filter((p) => p.products > 0)).toHaveLength(2);
    expect((await req('GET', `/v1/products/${a}`)).body.stock).toEqual({ total: 5, available: 2, reserved: 0, sold: 3 });
    expect((await req('GET', `/v1/products/${b}`)).body.stock).toEqual({ total: 3, available: 0, reserved: 0, sold: 3 });
    expect(await soldInPostgres(a!)).toBe(3);
    // alice bought 2 of a's limit of 2: the per-user count came back too.
    expect((await hold(a!, 1, 'alice')).body).toMatchObject({ type: '/problems/per-user-limit' });
    expect((await hold(b!, 1)).body).toMatchObject({ type: '/problems/out-of-stock', available: 0 });
    await buy(a!, 2);
    expect((await req('GET', `/v1/products/${a}`)).body.stock).toEqual({ total: 5, available: 0, reserved: 0, sold: 5 });
    for (const id of orders) expect((await req('GET', `/v1/orders/${id}`)).status).toBe(200);
    await drained();
    expect(await soldInPostgres(a!)).toBe(5);
    await waitFor(async () => (await req('GET', '/readyz', { token: 'admin' })).body.status === 'ready', 20_000, '/readyz ready');

    // Twice is safe; over a Redis with state (hold records) it refuses unless forced.
    await expect(rebuildFromRecord(api.runtime.engine, api.runtime.sql, {})).rejects.toThrow(/--force/);
    const again = await rebuildFromRecord(api.runtime.engine, api.runtime.sql, { force: true });
    expect(again.products).toBe(2);
    expect((await req('GET', `/v1/products/${a}`)).body.stock).toEqual({ total: 5, available: 0, reserved: 0, sold: 5 });
  });
});

describe('write-through\'s backstop', () => {
  it('an event numbered at or below PostgreSQL\'s marker but not the one it names is not written; the partition is fenced', async () => {
    const [sku] = skusInDistinctPartitions(api.runtime.engine, 'BS', 1);
    await product(sku!, 10);
    await buy(sku!, 1);
    await drained();
    const p = partitionOf(sku!, api.runtime.engine.settings.partitions);
    const [mark] = await api.runtime.sql`select seq, event_id from partition_marks where partition = ${p}`;
    expect(Number(mark!.seq)).toBe(2);
    // Redis goes back one event (as an older AOF would) and numbers a new one again.
    const meta = `${api.runtime.engine.settings.keyPrefix}{p:${p}}:meta`;
    await admin((r) => r.hset(meta, 'seq', 1));
    expect((await req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: 4 } })).status).toBe(200);
    await waitFor(async () => (await api.runtime.engine.fences())[p]!.fenced?.startsWith('rolled back'), 20_000, 'fenced by write-through');
    const [ledger] = await api.runtime.sql`select count(*)::int as n, sum(delta)::int as total from stock_ledger where sku = ${sku!}`;
    expect(ledger).toEqual({ n: 1, total: 10 });
    const [after] = await api.runtime.sql`select seq, event_id from partition_marks where partition = ${p}`;
    expect(after).toEqual(mark);
    expect(isFenced(await hold(sku!, 1))).toBe(true);
  });
});

describe('Redis rolled back (an older AOF), restarted under the running process', () => {
  it('the partitions behind PostgreSQL are fenced before any hold is granted; PostgreSQL\'s sold never exceeds the stock', async () => {
    const engine = api.runtime.engine;
    const [hot, calm] = skusInDistinctPartitions(engine, 'RB', 2);
    await product(hot!, 6);
    await product(calm!, 6);
    await buy(hot!, 2);
    await drained();
    const copy = mkdtempSync(join(tmpdir(), 'stockade-fence-aof-'));
    try {
      copyDir(join(redisDir, 'appendonlydir'), join(copy, 'appendonlydir'));
      // Sold after the copy, written through: PostgreSQL's marker is past the copy's.
      await buy(hot!, 4);
      await drained();
      expect(await soldInPostgres(hot!)).toBe(6);

      await killAndRollBack(copy);

      // A burst of holds races the restart and the reconnect: none may be granted by the rolled-back Redis.
      let racing = true;
      const answers: number[] = [];
      const burst = (async () => {
        while (racing) {
          const r = await hold(hot!, 1);
          answers.push(r.status);
          if (r.status === 201) break;
        }
      })();
      server = await startRedis({ dir: redisDir, port: server.port, appendfsync: 'always' });
      try {
        await waitFor(async () => (await engine.fences().catch(() => null))?.[partitionOf(hot!, engine.settings.partitions)]?.fenced === 'behind',
          30_000, 'the hot partition fenced');
      } finally {
        racing = false;
        await burst;
      }
      const fencedAnswer = await hold(hot!, 1);
      expect(answers.filter((s) => s === 201)).toEqual([]);
      expect(isFenced(fencedAnswer), JSON.stringify(fencedAnswer.body)).toBe(true);
      // The calm partition was not behind: it sells on.
      expect((await hold(calm!, 1)).status).toBe(201);
      expect(await soldInPostgres(hot!)).toBeLessThanOrEqual(6);

      // repair sets the hot partition's counts to PostgreSQL's and lifts its fence; verify then finds nothing.
      const hotPartition = partitionOf(hot!, engine.settings.partitions);
      const repaired = await repair(api.runtime);
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'align_counts', sku: hot }));
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'lift_fence', partition: hotPartition }));
      // (Other tests of this file fenced and parked on purpose in their own partitions.)
      const mine = (v: { sku?: string; partition?: number }) => v.sku === hot || v.sku === calm || v.partition === hotPartition;
      expect(repaired.after.violations.filter(mine)).toEqual([]);
      expect((await verify(api.runtime)).violations.filter(mine)).toEqual([]);
      // Nothing is sold twice: the 6 units PostgreSQL sold are gone in Redis too; the partition answers again.
      const sold = await hold(hot!, 1);
      expect(sold.status, JSON.stringify(sold.body)).toBe(409);
      expect((await req('GET', `/v1/products/${hot}`, { token: 'admin' })).body.stock).toEqual({ total: 6, available: 0, reserved: 0, sold: 6 });
      expect((await repair(api.runtime)).actions.filter(mine)).toEqual([]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('a capture whose hold an older AOF still has as held, and whose order PostgreSQL lost', () => {
  it('verify names it despite the fence; repair lifts the fence, then commits the capture on its hold: one order, nothing sold twice', async () => {
    const engine = api.runtime.engine;
    const [sku] = skusInDistinctPartitions(engine, 'RH', 1);
    await product(sku!, 6);
    await buy(sku!, 2);
    const held = await hold(sku!, 1);
    expect(held.status).toBe(201);
    const id: string = held.body.id;
    await drained();
    const copy = mkdtempSync(join(tmpdir(), 'stockade-fence-aof-'));
    try {
      copyDir(join(redisDir, 'appendonlydir'), join(copy, 'appendonlydir'));
      const confirmed = await req('POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
      expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
      const orderId: string = confirmed.body.order_id;
      await drained();

      await killAndRollBack(copy);
      const partition = partitionOf(sku!, engine.settings.partitions);
      await restartFenced(partition);
      // PostgreSQL lost the order too (a restored backup): the capture at the provider is all that is left of it.
      const { sql } = api.runtime;
      await sql`delete from payments where order_id = ${orderId}`;
      await sql`delete from order_items where order_id = ${orderId}`;
      await sql`delete from order_parts where order_id = ${orderId}`;
      await sql`delete from orders where id = ${orderId}`;

      const before = await verify(api.runtime);
      expect(before.violations).toContainEqual(expect.objectContaining({ kind: 'charge_without_order', reservation: id, found: 'a hold held' }));
      const repaired = await repair(api.runtime);
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'lift_fence', partition }));
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'commit_capture', reservation: id,
        detail: expect.stringContaining(`order ${orderId}`) }));
      const mine = (v: { sku?: string; partition?: number; reservation?: string }) => v.sku === sku || v.partition === partition || v.reservation === id;
      expect(repaired.after.violations.filter(mine)).toEqual([]);
      await drained();
      expect(await soldInPostgres(sku!)).toBe(3);
      expect((await req('GET', `/v1/products/${sku}`, { token: 'admin' })).body.stock).toEqual({ total: 6, available: 3, reserved: 0, sold: 3 });
      expect((await verify(api.runtime)).violations.filter(mine)).toEqual([]);
      expect((await repair(api.runtime)).actions.filter(mine)).toEqual([]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('a hold an older AOF still has as held, whose order PostgreSQL has', () => {
  it('repair records it confirmed before the counts are aligned: a resend of its confirm answers the order and sells nothing twice', async () => {
    const engine = api.runtime.engine;
    const [sku] = skusInDistinctPartitions(engine, 'RC', 1);
    await product(sku!, 6);
    const held = await hold(sku!, 2);
    expect(held.status).toBe(201);
    const id: string = held.body.id;
    await drained();
    const copy = mkdtempSync(join(tmpdir(), 'stockade-fence-aof-'));
    try {
      copyDir(join(redisDir, 'appendonlydir'), join(copy, 'appendonlydir'));
      const confirm = () => req('POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
      const confirmed = await confirm();
      expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
      await drained();

      await killAndRollBack(copy);
      const partition = partitionOf(sku!, engine.settings.partitions);
      await restartFenced(partition);

      const repaired = await repair(api.runtime);
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'confirm_records', partition }));
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'lift_fence', partition }));
      expect((await req('GET', `/v1/reservations/${id}`)).body).toMatchObject({ status: 'confirmed' });
      const resent = await confirm();
      expect(resent.status, JSON.stringify(resent.body)).toBe(200);
      expect(resent.body.order_id).toBe(confirmed.body.order_id);
      await drained();
      expect(await soldInPostgres(sku!)).toBe(2);
      expect((await req('GET', `/v1/products/${sku}`, { token: 'admin' })).body.stock).toEqual({ total: 6, available: 4, reserved: 0, sold: 2 });
      const mine = (v: { sku?: string; partition?: number; reservation?: string }) => v.sku === sku || v.partition === partition || v.reservation === id;
      expect((await verify(api.runtime)).violations.filter(mine)).toEqual([]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('confirms acknowledged in the writes Redis lost, none of them written through yet', () => {
  it('their partitions are fenced before anything is granted (the provider\'s captures compared); repair recreates the orders under the ids the buyers got', async () => {
    // An API of its own, without write-through: nothing of the lost seconds reaches PostgreSQL (as when write-through
    // lags or PostgreSQL is down), so no partition is behind PostgreSQL's marker. Only the provider knows what was paid.
    const lone = await testApi({ redisUrl: server.url, databaseUrl: await freshDatabase(), workers: false });
    let writeThrough: WriteThrough | null = null;
    const copy = mkdtempSync(join(tmpdir(), 'stockade-fence-aof-'));
    try {
      const at = (method: string, path: string, o: Parameters<typeof call>[3] = {}) => call(lone.url, method, path, o);
      const holdAt = (sku: string, qty: number) => at('POST', '/v1/reservations',
        { body: { user_id: `u${++n}`, items: [{ sku, qty }] }, headers: { 'idempotency-key': `lc-${++n}` } });
      const confirmAt = async (id: string) => {
        const r = await at('POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        return r.body.order_id as string;
      };
      const engine = lone.runtime.engine;
      const [early, late, calm] = skusInDistinctPartitions(engine, 'LC', 3);
      for (const sku of [early!, late!, calm!]) {
        const r = await at('POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock: 5, per_user_limit: 0 } });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
      const calmOrder = await confirmAt((await holdAt(calm!, 1)).body.id);
      const earlyHold = await holdAt(early!, 2);
      expect(earlyHold.status).toBe(201);
      copyDir(join(redisDir, 'appendonlydir'), join(copy, 'appendonlydir'));
      // Acknowledged after the copy: the hold the copy has as held is confirmed; a second is held and confirmed.
      const earlyOrder = await confirmAt(earlyHold.body.id);
      const lateHold = await holdAt(late!, 3);
      expect(lateHold.status).toBe(201);
      const lateOrder = await confirmAt(lateHold.body.id);

      await killAndRollBack(copy);
      server = await startRedis({ dir: redisDir, port: server.port, appendfsync: 'always' });
      const partition = (sku: string) => partitionOf(sku, engine.settings.partitions);
      await waitFor(async () => {
        const fences = await engine.fences().catch(() => null);
        return [early!, late!].every((sku) => fences?.[partition(sku)]?.fenced?.startsWith('lost 1 paid order') === true);
      }, 30_000, 'the partitions that lost a paid order fenced');
      // Nothing granted where units were paid for; the partition that lost nothing paid sells on.
      for (const sku of [early!, late!]) {
        const refused = await holdAt(sku, 1);
        expect(isFenced(refused), JSON.stringify(refused.body)).toBe(true);
      }
      expect((await holdAt(calm!, 1)).status).toBe(201);
      expect((await engine.fences())[partition(calm!)]?.fenced).toBeNull();

      writeThrough = startWorkers(engine, server.url, lone.runtime.sql, lone.runtime.log, { pollMs: 20, lockMs: 2_000 });
      const repaired = await repair(lone.runtime);
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'restore_order', reservation: lateHold.body.id,
        detail: expect.stringContaining(`order ${lateOrder}`) }));
      expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'commit_capture', reservation: earlyHold.body.id,
        detail: expect.stringContaining(`order ${earlyOrder}`) }));
      for (const sku of [early!, late!]) expect(repaired.actions).toContainEqual(expect.objectContaining({ kind: 'lift_fence', partition: partition(sku) }));
      expect(repaired.after.violations).toEqual([]);
      await waitFor(async () => (await writeThrough!.backlog()) === 0, 30_000, 'outbox drained');

      // Every acknowledged confirm is its order in PostgreSQL, with the id its buyer got; nothing sold twice.
      const { sql } = lone.runtime;
      const orders = await sql`select o.id, sum(i.qty)::int as units from orders o join order_items i on i.order_id = o.id group by o.id`;
      expect(new Map(orders.map((o) => [String(o.id), o.units]))).toEqual(new Map([[calmOrder, 1], [earlyOrder, 2], [lateOrder, 3]]));
      const stock = async (sku: string) => (await at('GET', `/v1/products/${sku}`, { token: 'admin' })).body.stock;
      expect(await stock(early!)).toEqual({ total: 5, available: 3, reserved: 0, sold: 2 });
      expect(await stock(late!)).toEqual({ total: 5, available: 2, reserved: 0, sold: 3 });
      expect((await holdAt(late!, 2)).status).toBe(201);
      expect((await holdAt(late!, 1)).status).toBe(409);
      expect((await verify(lone.runtime)).violations).toEqual([]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
      await writeThrough?.stop();
      await fulfilsWithin(lone.close(), 30_000);
    }
  }, 120_000);
});
