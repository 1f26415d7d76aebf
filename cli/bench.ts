import { randomBytes } from 'node:crypto';
import { benchEngine, type EngineBenchOptions, type EngineBenchResult } from '../bench/engine-reserve.ts';
import { benchExpire, type ExpireBenchResult } from '../bench/expire.ts';
import { benchRebuild, type RebuildBenchResult } from '../bench/rebuild.ts';
import { benchHttp, type HttpBenchResult } from '../bench/http-flash-sale.ts';
import { benchMemory, type MemoryBenchResult } from '../bench/memory.ts';
import { withScratch } from '../bench/scratch.ts';
import { benchWriteThrough, type WriteThroughBenchResult } from '../bench/writethrough.ts';
import { startLocalCluster } from '../services/cluster.ts';
import { startLocalServices, stopLocalServices } from '../services/local.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { serviceSettings } from '../settings/views.ts';
import { runSteps, type Step } from './progress.ts';
import { pairs, table } from './table.ts';

interface Output {
  json?: boolean;
}

/**
 * The steps on REDIS_URL when set; otherwise first a private redis-server in a
 * scratch dir, which is stopped and removed when the run ends (also on error and on Ctrl-C).
 */
async function onRedis(opts: Output & { redisCluster?: number }, steps: (redisUrl: () => string) => Step[]): Promise<void> {
  const given = serviceSettings().redisUrl;
  if (given && !opts.redisCluster) return runSteps(steps(() => given), opts);
  await withScratch('stockade-bench-', async (scratch) => {
    const redis = { url: '' };
    const start = async () => {
      if (opts.redisCluster) {
        const cluster = await startLocalCluster({ masters: opts.redisCluster, under: scratch.dir, password: randomBytes(24).toString('hex') });
        scratch.atRemoval(() => cluster.stop());
        redis.url = cluster.url;
        return;
      }
      const port = await freePort();
      redis.url = (await scratch.started(startRedis({ dir: scratch.dir, port }), () => stopRedis(scratch.dir))).url;
    };
    const what = opts.redisCluster ? `a private Redis Cluster (${opts.redisCluster} masters, a replica each)` : 'a private redis-server';
    await runSteps([{ title: `start ${what}`, run: start }, ...steps(() => redis.url)], opts);
  });
}

/** `stockade bench engine`: on REDIS_URL, or on a private redis-server started (and stopped) for the run. */
export async function benchEngineCommand(opts: Output & { seconds: number; concurrency: number; scenario: string; redisCluster?: number }): Promise<void> {
  const scenarios = (opts.scenario === 'all' ? ['hold', 'hold-idempotent', 'sold-out', 'spread'] : [opts.scenario]) as Array<EngineBenchOptions['scenario']>;
  const results: EngineBenchResult[] = [];
  await onRedis(opts, (redisUrl) => scenarios.map((scenario) => ({
    title: `${scenario}: ${opts.concurrency} callers, 1 s warm-up and ${opts.seconds} s measured`,
    expectedSeconds: opts.seconds + 1,
    run: async () => {
      const result = await benchEngine({ redisUrl: redisUrl(), seconds: opts.seconds, concurrency: opts.concurrency, scenario });
      if (opts.json) console.log(JSON.stringify(result));
      results.push(result);
    },
  })));
  if (opts.json) return;
  const us = (n: number) => `${n} µs`;
  console.log(table(['scenario', 'requests/s', 'requests', 'outcomes', 'mean batch', 'Redis CPU/req', 'in scripts/req', 'Node CPU/req'],
    results.map((r) => [r.scenario, r.perSecond.toLocaleString('en-US'), r.requests.toLocaleString('en-US'),
      Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(', '), r.batchMean,
      us(r.redisCpuUsPerRequest), us(r.redisScriptUsPerRequest), us(r.nodeCpuUsPerRequest)])));
}

/** `stockade bench memory`: Redis memory per hold, per claim and per recorded refusal, on a private redis-server. */
export async function benchMemoryCommand(opts: Output & { count: number }): Promise<void> {
  const out: { result?: MemoryBenchResult } = {};
  await onRedis(opts, (redisUrl) => [{
    title: `${opts.count} records of each kind`,
    run: async (report) => { out.result = await benchMemory({ redisUrl: redisUrl(), count: opts.count, report }); },
  }]);
  const r = out.result!;
  console.log(opts.json ? JSON.stringify(r) : pairs([
    ['hold (no Idempotency-Key)', `${r.holdBytes} B`],
    ['Idempotency-Key on a hold', `+${r.claimBytes} B`],
    ['recorded refusal (sold out)', `${r.refusalBytes} B`],
  ], [`record (${r.count} of each)`, 'Redis memory each']));
}

/** `stockade bench expire`: the expire sweep over many due holds, and Redis memory per active hold, on a private redis-server. */
export async function benchExpireCommand(opts: Output & { holds: number; skus: number }): Promise<void> {
  const out: { result?: ExpireBenchResult } = {};
  await onRedis(opts, (redisUrl) => [{
    title: `${opts.holds.toLocaleString('en-US')} holds over ${opts.skus} SKUs, all due at once, swept until none is held`,
    run: async (report) => { out.result = await benchExpire({ redisUrl: redisUrl(), holds: opts.holds, skus: opts.skus, report }); },
  }]);
  const r = out.result!;
  console.log(opts.json ? JSON.stringify(r) : pairs([
    ['time to expire them all', `${r.seconds} s (${r.passes} ${r.passes === 1 ? "pass" : "passes"})`],
    ['holds expired per second', r.holdsPerSec.toLocaleString('en-US')],
    ['Redis CPU per hold (in scripts)', `${r.redisCpuUsPerHold} µs (${r.scriptUsPerHold} µs)`],
    ['Redis memory per active hold', `${r.memoryBytesPerHold} B`],
    ['pass budget / work per step', `${r.sweepBudgetMs} ms / ${r.expireWorkMax}`],
  ], [`${r.holds.toLocaleString('en-US')} due holds, ${r.skus} SKUs, ${r.partitions} partitions`, '']));
}

/** Steps on REDIS_URL and DATABASE_URL when both are set, else on a private redis-server and PostgreSQL started (and stopped) for the run. */
async function onServices(opts: Output, steps: (urls: () => { redisUrl: string; databaseUrl: string }) => Step[]): Promise<void> {
  const { redisUrl, databaseUrl } = serviceSettings();
  if (redisUrl && databaseUrl) return runSteps(steps(() => ({ redisUrl, databaseUrl })), opts);
  await withScratch('stockade-bench-', async (scratch) => {
    const urls = { redisUrl: '', databaseUrl: '' };
    const start = async () => {
      const ports = { redisPort: await freePort(), postgresPort: await freePort() };
      Object.assign(urls, await scratch.started(startLocalServices({ dataDir: scratch.dir, ports }), () => stopLocalServices(scratch.dir)));
    };
    await runSteps([{ title: 'start a private redis-server and PostgreSQL', run: start }, ...steps(() => urls)], opts);
  });
}

/** `stockade bench rebuild`: `reconcile rebuild` of an empty Redis from a PostgreSQL of many SKUs and orders (private services unless both URLs are set). */
export async function benchRebuildCommand(opts: Output & { skus: number; orders: number }): Promise<void> {
  const out: { result?: RebuildBenchResult } = {};
  await onServices(opts, (urls) => [{
    title: `${opts.skus.toLocaleString('en-US')} SKUs and ${opts.orders.toLocaleString('en-US')} orders in PostgreSQL, rebuilt into an empty Redis`,
    run: async (report) => { out.result = await benchRebuild({ ...urls(), skus: opts.skus, orders: opts.orders, report }); },
  }]);
  const r = out.result!;
  console.log(opts.json ? JSON.stringify(r) : pairs([
    ['time to rebuild', `${r.seconds} s`],
    ['SKUs rebuilt per second', r.skusPerSec.toLocaleString('en-US')],
    ['sampled SKUs not equal to PostgreSQL', r.wrong],
  ], [`${r.skus.toLocaleString('en-US')} SKUs, ${r.orders.toLocaleString('en-US')} orders, ${r.partitions} partitions`, '']));
  if (r.wrong > 0) process.exitCode = 1;
}

/** `stockade bench writethrough`: on the given URLs, or on private (fsynced) services started and stopped for the run. */
export async function benchWriteThroughCommand(opts: Output & { orders: number; rate: number; seconds: number }): Promise<void> {
  const out: { result?: WriteThroughBenchResult } = {};
  const steps = (urls: () => { redisUrl: string; databaseUrl: string }): Step[] => [{
    title: `drain ${opts.orders} orders twice, then ${opts.seconds} s at ${opts.rate} orders/s`,
    run: async (report) => { out.result = await benchWriteThrough({ ...urls(), orders: opts.orders, ratePerSec: opts.rate, seconds: opts.seconds, report }); },
  }];
  await onServices(opts, steps);
  const r = out.result!;
  if (opts.json) return console.log(JSON.stringify(r));
  const drains = [['one hot SKU', r.drain_one_hot_sku], ['16 SKUs', r.drain_16_skus]] as const;
  console.log(table(['drain', 'orders', 'seconds', 'orders/s'], drains.map(([name, d]) => [name, d.orders, d.seconds, d.ordersPerSec.toLocaleString('en-US')])));
  console.log('');
  console.log(pairs([['orders', r.lag.orders], ['offered orders/s', r.lag.offeredPerSec], ['lag p50', `${r.lag.p50Ms} ms`], ['lag p95', `${r.lag.p95Ms} ms`],
    ['lag p99', `${r.lag.p99Ms} ms`], ['lag max', `${r.lag.maxMs} ms`]], ['lag run (commit to row visible)', '']));
}

/** `stockade bench http`: a flash sale over HTTP against a server of its own. */
export async function benchHttpCommand(opts: Output & { seconds: number; connections: number; processes: number; stock: number }): Promise<void> {
  const out: { result?: HttpBenchResult } = {};
  await runSteps([{
    title: `flash sale over HTTP: ${opts.connections} connections for ${opts.seconds} s, ${opts.processes} API process(es)`,
    run: async (report) => {
      out.result = await benchHttp({ seconds: opts.seconds, connections: opts.connections, processes: opts.processes, stock: opts.stock, report });
    },
  }], opts);
  const r = out.result!;
  if (opts.json) return console.log(JSON.stringify(r));
  const ms = (n: number) => `${n} ms`;
  console.log(pairs([
    ['requests/s', r.requestsPerSec.toLocaleString('en-US')],
    ['latency p50 / p90 / p99 / max', [r.latencyMs.p50, r.latencyMs.p90, r.latencyMs.p99, r.latencyMs.max].map(ms).join(' / ')],
    ['statuses', Object.entries(r.statuses).map(([code, s]) => `${code}: ${s.count}`).join(', ')],
    ['errors / timeouts', `${r.errors} / ${r.timeouts}`],
    ['stock at the end', Object.entries(r.finalStock).map(([k, n]) => `${k} ${n}`).join(', ')],
  ], [`${r.connections} connections, ${r.processes} API process(es)`, '']));
}
