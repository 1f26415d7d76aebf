import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { emptyRecord, Engine } from '../engine/index.ts';
import { cpuDelta, redisCpu } from './redis-stats.ts';

/**
 * In-process engine throughput: `concurrency` callers reserve one unit at a time
 * of one hot SKU through the group-commit path for `seconds`, and we report
 * reservations per second, the batch sizes Redis saw, and what each request cost
 * Redis (server CPU, and time inside scripts) and this process.
 */
export interface EngineBenchOptions {
  redisUrl: string;
  seconds: number;
  concurrency: number;
  scenario: 'hold' | 'hold-idempotent' | 'sold-out';
}

export interface EngineBenchResult {
  scenario: string;
  requests: number;
  outcomes: Record<string, number>;
  perSecond: number;
  batchMean: number;
  redisCpuUsPerRequest: number;
  redisScriptUsPerRequest: number;
  nodeCpuUsPerRequest: number;
}

export async function benchEngine(opts: EngineBenchOptions): Promise<EngineBenchResult> {
  const redis = new Redis(opts.redisUrl);
  const stats = new Redis(opts.redisUrl);
  const engine = Engine.create(redis, { keyPrefix: `bench${randomBytes(3).toString('hex')}:`, inflightMax: 1_000_000 });
  await engine.useRecord(emptyRecord);
  const sku = 'HOT-1';
  await engine.createProduct({ sku, name: 'hot', priceCents: 1000, stock: opts.scenario === 'sold-out' ? 0 : 1_000_000_000 });
  const outcomes: Record<string, number> = {};
  let requests = 0;
  let stopAt = 0;
  let keySeq = 0;
  const caller = async (c: number) => {
    while (Date.now() < stopAt) {
      const key = opts.scenario === 'hold-idempotent' ? `k${c}-${keySeq++}` : undefined;
      const out = await engine.reserve({ userId: `user-${c}`, items: [{ sku, qty: 1 }], idempotencyKey: key });
      outcomes[out.kind] = (outcomes[out.kind] ?? 0) + 1;
      requests += 1;
    }
  };
  // Warm up (scripts loaded, JIT warm), then measure.
  stopAt = Date.now() + 1_000;
  await Promise.all(Array.from({ length: opts.concurrency }, (_, c) => caller(c)));
  requests = 0;
  for (const k of Object.keys(outcomes)) delete outcomes[k];
  engine.takeBatchSizes();

  const redisBefore = await redisCpu(stats);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  stopAt = Date.now() + opts.seconds * 1000;
  await Promise.all(Array.from({ length: opts.concurrency }, (_, c) => caller(c)));
  const elapsedSec = (performance.now() - started) / 1000;
  const node = process.cpuUsage(nodeBefore);
  const r = cpuDelta(redisBefore, await redisCpu(stats));
  const batches = engine.takeBatchSizes();
  await engine.close();
  await Promise.all([redis.quit(), stats.quit()]);
  return {
    scenario: opts.scenario,
    requests,
    outcomes,
    perSecond: Math.round(requests / elapsedSec),
    batchMean: Number((batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length)).toFixed(1)),
    redisCpuUsPerRequest: Number(((r.cpuSec * 1e6) / requests).toFixed(2)),
    redisScriptUsPerRequest: Number((r.scriptUsec / requests).toFixed(2)),
    nodeCpuUsPerRequest: Number(((node.user + node.system) / requests).toFixed(2)),
  };
}
