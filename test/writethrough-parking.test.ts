import { Packr } from 'msgpackr';
import { pino, type Logger } from 'pino';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type Engine, partitionKeys, partitionOf } from '../engine/index.ts';
import { freePort } from '../services/process.ts';
import { connectDb, type Sql } from '../store/db.ts';
import { startWorkers } from '../workers/run.ts';
import type { WorkerSettings } from '../settings/views.ts';
import type { WriteThrough } from '../workers/writethrough.ts';
import { call, testApi, waitFor, type TestApi } from './support/api.ts';
import { confirmOrder, skusInOnePartition } from './support/engine.ts';

// Outbox entries that can never be written are parked (moved aside, visible,
// retried) instead of blocking their partition; transient failures park nothing.
// Real Redis, PostgreSQL and BullMQ workers; poison entries are added with XADD.
const packr = new Packr({ useRecords: false });
const quick: Partial<WorkerSettings> = { pollMs: 20, lockMs: 2_000, parkedRetryMs: 300 };

/** An `order` event as commitHold appends it (lua/commitHold-6.lua), one line. */
function orderEvent(reservationId: string, sku: string) {
  return { t: 'order', id: reservationId, order: `o${reservationId}`, user: 'ghost', home: '', parts: '',
    lines: [sku, 1, 100, 0], total: 100, amount: 100, payment: `ch_${reservationId}`, at: Date.now() };
}

/** The suite's Redis, where the test APIs' engines keep their keys. */
const suiteRedis = new Redis(inject('redisUrl'));
afterAll(() => suiteRedis.quit());

const keysOf = (engine: Engine, p: number) => partitionKeys(engine.settings.keyPrefix, p);

async function xadd(engine: Engine, p: number, field: string, value: Buffer): Promise<string> {
  return (await suiteRedis.xadd(keysOf(engine, p).outbox, '*', field, value))!;
}

/** The parked stream's entries as {src, reason}. */
async function parked(engine: Engine, p: number): Promise<{ src: string; reason: string }[]> {
  const entries = await suiteRedis.xrange(keysOf(engine, p).parked, '-', '+');
  return entries.map(([, fields]) => {
    const at = (name: string) => fields[fields.lastIndexOf(name) + 1]!;
    return { src: at('src'), reason: at('reason') };
  });
}

async function ordersWritten(sql: Sql, ids: string[]): Promise<number> {
  const [row] = await sql`select count(*)::int as n from orders where id in ${sql(ids)}`;
  return row!.n as number;
}

/** A product and `count` confirmed orders of it, all in one partition; the order ids. */
async function goodOrders(engine: Engine, sku: string, count: number, from = 0): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => confirmOrder(engine, `good${from + i}`, [{ sku, qty: 1 }])));
}

function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return () => (stopping ??= stop());
}

/** A logger whose lines the test can read. */
function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

interface Setup {
  api: TestApi;
  engine: Engine;
  sql: Sql;
  /** A product PostgreSQL knows, and its partition (where the tests add poison). */
  sku: string;
  p: number;
}

async function setup(): Promise<Setup> {
  const api = await testApi({ engine: { partitions: 4 } });
  const { engine, sql } = api.runtime;
  const [sku] = skusInOnePartition(engine, 'PARK', 1);
  await engine.createProduct({ sku: sku!, name: 'good', priceCents: 100, stock: 1_000 });
  return { api, engine, sql, sku: sku!, p: partitionOf(sku!, engine.settings.partitions) };
}

/** Runs the test with workers on a fresh setup; stops them and the API after it. */
async function withWorkers(o: { log?: Logger; workers?: Partial<WorkerSettings> },
  test: (t: Setup & { workers: WriteThrough }) => Promise<void>): Promise<void> {
  const t = await setup();
  const workers = startWorkers(t.engine, inject('redisUrl'), t.sql, o.log ?? t.api.runtime.log, { ...quick, ...o.workers });
  try {
    await test({ ...t, workers });
  } finally {
    await workers.stop();
    await t.api.close();
  }
}

/** Fixes the cause of a foreign-key failure: the product row PostgreSQL lacked. */
async function createInPostgres(sql: Sql, sku: string): Promise<void> {
  await sql`insert into products (sku, name, price_cents, per_user_limit, created_at) values (${sku}, 'ghost', 100, 0, now())`;
}

const parkedCount = (engine: Engine, p: number, count: number) =>
  waitFor(async () => { const e = await parked(engine, p); return e.length === count && e; }, 30_000, `${count} entries parked`);

describe('parking outbox entries that cannot be written', () => {
  it('an order for a SKU PostgreSQL does not know is parked; the partition drains on; once the SKU exists it is written with its own event id', async () => {
    const { log, lines } = capturedLog();
    await withWorkers({ log }, async ({ api, engine, sql, sku, p }) => {
      const before = await goodOrders(engine, sku, 3);
      const poisonId = await xadd(engine, p, 'e', packr.pack(orderEvent('ghost1', 'GHOST-1')));
      const after = await goodOrders(engine, sku, 3, 3);
      await waitFor(async () => (await ordersWritten(sql, [...before, ...after])) === 6, 30_000, 'the good orders around the poison');
      const [entry] = await parkedCount(engine, p, 1);
      expect(entry!.src).toBe(poisonId);
      expect(entry!.reason).toMatch(/^23503 /);
      expect(await ordersWritten(sql, ['oghost1'])).toBe(0);
      const line = lines.find((l) => l.msg === 'outbox entry parked');
      expect(line).toMatchObject({ level: 50, partition: p, event_id: `${p}:${poisonId}`, event_type: 'order', reason: entry!.reason });

      // /readyz answers from checks made in the background: once one has seen the parked entry.
      await waitFor(async () => (await call(api.url, 'GET', '/readyz', { token: 'admin' })).body.outbox_parked === 1, 20_000, 'parked entry seen');
      const metrics = await call(api.url, 'GET', '/metrics', { token: 'admin' });
      expect(metrics.body).toMatch(/^stockade_outbox_parked_entries 1$/m);

      const later = await goodOrders(engine, sku, 2, 6);
      await waitFor(async () => (await ordersWritten(sql, later)) === 2, 30_000, 'new confirms of the partition');
      expect(await parked(engine, p)).toHaveLength(1);

      // The cause is fixed: the parked entry is written at its next retry, under its original event id.
      await createInPostgres(sql, 'GHOST-1');
      await parkedCount(engine, p, 0);
      const [part] = await sql`select event_id from order_parts where order_id = 'oghost1'`;
      expect(part!.event_id).toBe(`${p}:${poisonId}`);
      expect(await ordersWritten(sql, ['oghost1'])).toBe(1);
      await waitFor(async () => (await call(api.url, 'GET', '/readyz', { token: 'admin' })).body.outbox_parked === 0, 20_000, 'no parked entry seen');
    });
  }, 60_000);

  it('an entry that cannot be decoded is parked, never skipped, and stays parked across retries', async () => {
    await withWorkers({}, async ({ engine, sql, sku, p, workers }) => {
      const before = await goodOrders(engine, sku, 2);
      const unknownType = await xadd(engine, p, 'e', packr.pack({ t: 'rebate', order: 'o1', at: Date.now() }));
      const badMsgpack = await xadd(engine, p, 'e', Buffer.from([0x92, 0x01])); // an array of two, cut after one
      const noEvent = await xadd(engine, p, 'x', Buffer.from('y'));
      const after = await goodOrders(engine, sku, 2, 2);
      await waitFor(async () => (await ordersWritten(sql, [...before, ...after])) === 4, 30_000, 'the good orders around the undecodable ones');
      const entries = await parkedCount(engine, p, 3);
      expect(entries.map((e) => e.src)).toEqual([unknownType, badMsgpack, noEvent]);
      expect(entries.map((e) => e.reason)).toEqual([
        expect.stringMatching(/^OUTBOX_UNDECODABLE .*unknown event type/),
        expect.stringMatching(/^OUTBOX_UNDECODABLE .*msgpack/),
        expect.stringMatching(/^OUTBOX_UNDECODABLE .*no event/),
      ]);
      const retried = workers.stats.parkedRetried;
      await waitFor(async () => workers.stats.parkedRetried >= retried + 6, 30_000, 'two more retry passes');
      expect((await parked(engine, p)).map((e) => e.src)).toEqual([unknownType, badMsgpack, noEvent]);
      expect(await engine.outbox.backlog()).toBe(0);
    });
  }, 60_000);

  it('entries that still fail at the front of the parked stream do not keep the ones behind them from being written', async () => {
    await withWorkers({ workers: { batchMax: 2 } }, async ({ engine, sql, p }) => {
      const stuck = [await xadd(engine, p, 'e', packr.pack({ t: 'rebate' })), await xadd(engine, p, 'e', packr.pack({ t: 'rebate' }))];
      const ghosts = ['g1', 'g2', 'g3'];
      for (const id of ghosts) await xadd(engine, p, 'e', packr.pack(orderEvent(id, 'GHOST-2')));
      await parkedCount(engine, p, 5);
      await createInPostgres(sql, 'GHOST-2');
      await waitFor(async () => (await ordersWritten(sql, ghosts.map((id) => `o${id}`))) === 3, 30_000, 'the fixable entries written');
      expect((await parkedCount(engine, p, 2)).map((e) => e.src)).toEqual(stuck);
    });
  }, 60_000);

  it('a transient failure (PostgreSQL unreachable) parks nothing; the outbox waits and drains once it is back', async () => {
    const { api, engine, sql, sku, p } = await setup();
    const unreachable = connectDb(`postgres://stockade@127.0.0.1:${await freePort()}/nowhere`);
    const failing = startWorkers(engine, inject('redisUrl'), unreachable, api.runtime.log, { ...quick, parkAfterAttempts: 1 });
    const stopFailing = once(() => failing.stop());
    let workers: WriteThrough | null = null;
    try {
      const orders = await goodOrders(engine, sku, 5);
      await waitFor(async () => failing.stats.failures >= 4, 30_000, 'failed attempts');
      expect(await parked(engine, p)).toEqual([]);
      expect(failing.stats.parked).toBe(0);
      expect(await engine.outbox.backlog()).toBe(6); // the product and five orders
      await stopFailing();
      workers = startWorkers(engine, inject('redisUrl'), sql, api.runtime.log, quick);
      await waitFor(async () => (await ordersWritten(sql, orders)) === 5, 30_000, 'orders written once PostgreSQL is reachable');
      expect(await parked(engine, p)).toEqual([]);
    } finally {
      await stopFailing();
      await workers?.stop();
      await unreachable.end({ timeout: 1 });
      await api.close();
    }
  }, 60_000);
});
