import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { createRuntime, type Runtime } from '../app/runtime.ts';
import { type Engine, createLogger } from '../engine/index.ts';
import { startWorkers } from '../workers/run.ts';
import { withScratch } from './scratch.ts';

/**
 * Write-through rate and lag. Orders are confirmed through the engine (no HTTP),
 * so the numbers are the workers' and PostgreSQL's.
 * - drain: `orders` confirmed orders wait in the outbox, then the workers start;
 *   orders per second until the outbox is empty. Once with every order on one
 *   hot SKU (one partition: drained by one job at a time), once spread over 16.
 * - lag: orders confirmed at `ratePerSec` for `seconds` with the workers running;
 *   lag = the order row's written_at minus its commit time, in percentiles.
 */
export interface WriteThroughBenchOptions {
  redisUrl: string;
  databaseUrl: string;
  orders: number;
  ratePerSec: number;
  seconds: number;
  /** Told each phase as it starts. */
  report?: (phase: string) => void;
}

export interface DrainResult {
  orders: number;
  seconds: number;
  ordersPerSec: number;
}

export interface WriteThroughBenchResult {
  drain_one_hot_sku: DrainResult;
  drain_16_skus: DrainResult;
  lag: { orders: number; offeredPerSec: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; madeOrders: number };
}

async function confirmMany(engine: Engine, skus: string[], count: number, concurrency = 200): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const out = await engine.reserve({ userId: `b${i}`, items: [{ sku: skus[i % skus.length]!, qty: 1 }] });
      if (out.kind !== 'held') throw new Error(`reserve: ${out.kind}`);
      await engine.beginPayment(out.reservation.id);
      await engine.commit(out.reservation.id, { amountCents: out.reservation.totalCents, reference: `bench-${i}` });
    }
  }));
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** The provider's charge records go to a scratch dir, removed with the run. */
export function benchWriteThrough(o: WriteThroughBenchOptions): Promise<WriteThroughBenchResult> {
  return withScratch('stockade-bench-provider-', async (scratch) => {
    const log = createLogger('bench', 'warn');
    const runtime = await createRuntime({ redisUrl: o.redisUrl, databaseUrl: o.databaseUrl, env: {}, log,
      engine: { keyPrefix: `wtb${randomBytes(3).toString('hex')}:`, outboxLengthMax: 10_000_000 }, providerDir: scratch.dir });
    const report = o.report ?? (() => {});
    try {
      report(`drain ${o.orders} orders of one hot SKU`);
      const drain_one_hot_sku = await drain(runtime, o, 'drain_one_hot_sku', 1);
      report(`drain ${o.orders} orders of 16 SKUs`);
      const drain_16_skus = await drain(runtime, o, 'drain_16_skus', 16);
      report(`${o.seconds} s at ${o.ratePerSec} orders/s, then the backlog`);
      return { drain_one_hot_sku, drain_16_skus, lag: await lagRun(runtime, o) };
    } finally {
      await runtime.close();
    }
  });
}

async function drain({ engine, sql, log }: Runtime, o: WriteThroughBenchOptions, name: string, skuCount: number): Promise<DrainResult> {
  const skus = Array.from({ length: skuCount }, (_, i) => `${name}-${i}`);
  for (const sku of skus) await engine.createProduct({ sku, name: sku, priceCents: 100, stock: o.orders });
  await confirmMany(engine, skus, o.orders);
  const before = Number((await sql`select count(*) as n from orders`)[0]!.n);
  const workers = startWorkers(engine, o.redisUrl, sql, log);
  const started = performance.now();
  while ((await workers.backlog()) > 0) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  await workers.stop();
  const written = Number((await sql`select count(*) as n from orders`)[0]!.n) - before;
  return { orders: written, seconds: Number(seconds.toFixed(2)), ordersPerSec: Math.round(written / seconds) };
}

async function lagRun({ engine, sql, log }: Runtime, o: WriteThroughBenchOptions): Promise<WriteThroughBenchResult['lag']> {
  const skus = Array.from({ length: 16 }, (_, i) => `lag-${i}`);
  for (const sku of skus) await engine.createProduct({ sku, name: sku, priceCents: 100, stock: o.ratePerSec * o.seconds + 1 });
  const workers = startWorkers(engine, o.redisUrl, sql, log);
  const since = new Date();
  const tickMs = 50;
  const perTick = Math.max(1, Math.round((o.ratePerSec * tickMs) / 1000));
  const deadline = Date.now() + o.seconds * 1000;
  let made = 0;
  while (Date.now() < deadline) {
    const tickStart = Date.now();
    await confirmMany(engine, skus, perTick, perTick);
    made += perTick;
    await sleep(Math.max(0, tickMs - (Date.now() - tickStart)));
  }
  while ((await workers.backlog()) > 0) await sleep(20);
  await workers.stop();
  const lags = (await sql`select extract(epoch from (written_at - created_at)) * 1000 as ms from orders where created_at >= ${since}`)
    .map((r) => Number(r.ms)).sort((a, b) => a - b);
  return { orders: lags.length, offeredPerSec: o.ratePerSec, p50Ms: Math.round(percentile(lags, 50)), p95Ms: Math.round(percentile(lags, 95)),
    p99Ms: Math.round(percentile(lags, 99)), maxMs: Math.round(lags[lags.length - 1] ?? 0), madeOrders: made };
}
