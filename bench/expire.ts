import { randomBytes } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { emptyRecord, Engine, partitionKeys, shardKeys } from '../engine/index.ts';
import { cpuDelta, redisCpu } from './redis-stats.ts';

/**
 * How long the expire sweep takes over `holds` due holds: holds made (one unit
 * each, over `skus` SKUs in every partition), then the scripts' clock moved
 * past their TTL (each partition's clock offset: every hold falls due at once),
 * then passes of the sweep (Engine.sweepOnce: what each `expire` job runs, with
 * the settings' budget and step sizes) until none is held. Also Redis memory
 * per active hold (used_memory before and after making them, over the count).
 */
export interface ExpireBenchResult {
  holds: number;
  skus: number;
  partitions: number;
  /** used_memory added per hold made (its record, its share of the due index and counters). */
  memoryBytesPerHold: number;
  /** Passes of the sweep it took, and their time in all. */
  passes: number;
  seconds: number;
  holdsPerSec: number;
  /** Redis CPU (user + sys) per expired hold, and scripts' time per expired hold. */
  redisCpuUsPerHold: number;
  scriptUsPerHold: number;
  /** The passes' settings: time budget and work per step (STOCKADE_SWEEP_BUDGET_MS, STOCKADE_EXPIRE_WORK_MAX). */
  sweepBudgetMs: number;
  expireWorkMax: number;
}

/** Requests in flight while making holds. */
const makeConcurrency = 1_000;
/** Sweep passes at most until none is held: a guard against a loop that never ends (each pass is bounded by the sweep settings). */
const sweepPassesMax = 10_000;

/** Makes `count` holds of one unit through the engine, hold i on skuOf(i) for user `${userPrefix}${i}`; told the count made so far. */
export async function makeHolds(engine: Engine, count: number, skuOf: (i: number) => string, userPrefix: string,
  report: (made: number) => void): Promise<void> {
  for (let done = 0; done < count; done += makeConcurrency) {
    report(done);
    await Promise.all(Array.from({ length: Math.min(makeConcurrency, count - done) }, async (_, j) => {
      const i = done + j;
      const out = await engine.reserve({ userId: `${userPrefix}${i}`, items: [{ sku: skuOf(i), qty: 1 }] });
      if (out.kind !== 'held') throw new Error(`hold ${i}: ${out.kind}`);
    }));
  }
}

/** Sweep passes (Engine.sweepOnce, what each `expire` job runs) until no hold is held; the passes, the holds they expired, their time. */
export async function sweepUntilNoneHeld(engine: Engine, report: (passes: number, expired: number) => void)
  : Promise<{ passes: number; expired: number; seconds: number }> {
  const started = performance.now();
  let passes = 0;
  let expired = 0;
  while (passes < sweepPassesMax && (await engine.holdCounts()).live.held > 0) {
    const pass = await engine.sweepOnce();
    if (pass.failed > 0) throw pass.lastError;
    passes += 1;
    expired += pass.expired;
    report(passes, expired);
  }
  return { passes, expired, seconds: (performance.now() - started) / 1000 };
}

export async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);
}

/** Moves every partition's and key shard's script clock forward by ms (the meta hashes' clock_offset_ms). */
export async function advanceClock(redis: Redis | Cluster, engine: Engine, ms: number): Promise<void> {
  const { keyPrefix, partitions, keyShards } = engine.settings;
  // One command per meta hash, sent together: each lives in a slot of its own on a Redis Cluster (no pipeline spans slots).
  const metas = [...Array.from({ length: partitions }, (_, p) => partitionKeys(keyPrefix, p).meta),
    ...Array.from({ length: keyShards }, (_, s) => shardKeys(keyPrefix, s).meta)];
  await Promise.all(metas.map((meta) => redis.hincrby(meta, 'clock_offset_ms', ms)));
}

export async function benchExpire(o: { redisUrl: string; holds: number; skus: number; report?: (text: string) => void }): Promise<ExpireBenchResult> {
  const redis = new Redis(o.redisUrl);
  const report = o.report ?? (() => {});
  const engine = Engine.create(redis, { keyPrefix: `exp${randomBytes(3).toString('hex')}:`, inflightMax: 1_000_000 });
  try {
    await engine.useRecord(emptyRecord); // no PostgreSQL: a fresh install, every partition initialised
    const skus = Array.from({ length: o.skus }, (_, i) => `EXP-${i}`);
    const perSku = Math.ceil(o.holds / o.skus);
    for (const sku of skus) await engine.createProduct({ sku, name: sku, priceCents: 100, stock: perSku });
    const before = await usedMemory(redis);
    await makeHolds(engine, o.holds, (i) => skus[i % skus.length]!, 'u', (made) => report(`holds made: ${made.toLocaleString('en-US')}`));
    const memoryBytesPerHold = Math.round((await usedMemory(redis) - before) / o.holds);

    await advanceClock(redis, engine, engine.settings.holdTtlMsMax + 1_000);
    const cpuBefore = await redisCpu(redis);
    const { passes, expired, seconds } = await sweepUntilNoneHeld(engine,
      (pass, done) => report(`pass ${pass}: ${done.toLocaleString('en-US')} expired`));
    const cpu = cpuDelta(cpuBefore, await redisCpu(redis));
    if (expired !== o.holds) throw new Error(`expired ${expired} of ${o.holds} holds`);
    return {
      holds: o.holds, skus: o.skus, partitions: engine.settings.partitions, memoryBytesPerHold,
      passes, seconds: Math.round(seconds * 1000) / 1000, holdsPerSec: Math.round(o.holds / seconds),
      redisCpuUsPerHold: Math.round((cpu.cpuSec * 1e6 / o.holds) * 100) / 100,
      scriptUsPerHold: Math.round((cpu.scriptUsec / o.holds) * 100) / 100,
      sweepBudgetMs: engine.settings.sweepBudgetMs, expireWorkMax: engine.settings.expireWorkMax,
    };
  } finally {
    await engine.close(); // its sold-out subscription, if a refusal started one
    redis.disconnect();
  }
}
