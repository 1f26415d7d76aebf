import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { connectRedis } from '../app/redis.ts';
import { emptyRecord, Engine, partitionOf } from '../engine/index.ts';
import { cpuDelta, serversCpu, type RedisCpu } from './redis-stats.ts';

/**
 * In-process engine throughput: `concurrency` callers reserve one unit at a time
 * of one hot SKU (or, `spread`, of one SKU in each partition, caller by caller)
 * through the group-commit path for `seconds`, and we report reservations per
 * second, the batch sizes Redis saw, and what each request cost Redis (server
 * CPU summed over every master of a Redis Cluster, and time inside scripts) and
 * this process. REDIS_URL may name a node of a Redis Cluster.
 */
export interface EngineBenchOptions {
  redisUrl: string;
  seconds: number;
  concurrency: number;
  scenario: 'hold' | 'hold-idempotent' | 'sold-out' | 'spread';
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
  const redis = await connectRedis(opts.redisUrl, 'bench-engine');
  const engine = Engine.create(redis, { keyPrefix: `bench${randomBytes(3).toString('hex')}:`, inflightMax: 1_000_000 });
  await engine.useRecord(emptyRecord);
  const skus = opts.scenario === 'spread' ? skuPerPartition(engine.settings.partitions) : ['HOT-1'];
  for (const sku of skus) {
    await engine.createProduct({ sku, name: sku, priceCents: 1000, stock: opts.scenario === 'sold-out' ? 0 : 1_000_000_000 });
  }
  const outcomes: Record<string, number> = {};
  let requests = 0;
  let stopAt = 0;
  let keySeq = 0;
  const caller = async (c: number) => {
    while (Date.now() < stopAt) {
      const key = opts.scenario === 'hold-idempotent' ? `k${c}-${keySeq++}` : undefined;
      const out = await engine.reserve({ userId: `user-${c}`, items: [{ sku: skus[c % skus.length]!, qty: 1 }], idempotencyKey: key });
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

  const redisBefore = await serversCpu(redis);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  stopAt = Date.now() + opts.seconds * 1000;
  await Promise.all(Array.from({ length: opts.concurrency }, (_, c) => caller(c)));
  const elapsedSec = (performance.now() - started) / 1000;
  const node = process.cpuUsage(nodeBefore);
  const r = cpuDelta(redisBefore, await serversCpu(redis));
  const batches = engine.takeBatchSizes();
  await engine.close();
  await redis.quit();
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

/** One SKU name in each partition. */
function skuPerPartition(partitions: number): string[] {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < partitions; i++) {
    const p = partitionOf(`SPREAD-${i}`, partitions);
    if (!byPartition.has(p)) byPartition.set(p, `SPREAD-${i}`);
  }
  return [...byPartition.values()];
}

