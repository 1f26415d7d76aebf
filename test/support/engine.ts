import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { advanceClock as moveScriptClock } from '../../bench/expire.ts';
import { emptyRecord, Engine, type EngineSettings, type FaultHooks, partitionOf, type Stock } from '../../engine/index.ts';

/**
 * A client of the suite's Redis (a Cluster client in the cluster pass, where the suite's Redis is a local 3-master
 * Redis Cluster: vitest.config.ts, project `cluster`).
 */
export function testRedis(url: string = inject('redisUrl')): Redis | Cluster {
  if (!inject('redisCluster')) return new Redis(url, { maxRetriesPerRequest: 2 });
  const u = new URL(url);
  return new Cluster([{ host: u.hostname, port: Number(u.port) }], { redisOptions: { maxRetriesPerRequest: 2 } });
}

/** A fresh engine on the suite's Redis, in a key prefix of its own. */
export function testEngine(overrides: Partial<EngineSettings> = {}, faults?: FaultHooks): { engine: Engine; redis: Redis | Cluster; close: () => Promise<void> } {
  const redis = testRedis();
  const engine = Engine.create(redis, { keyPrefix: `t${randomBytes(4).toString('hex')}:`, ...overrides }, process.env, faults);
  // No PostgreSQL: every partition starts fresh. The check is not awaited here (callers start at once; granting calls wait for
  // it), but close waits for it: a check cut by quit() fails its commands with "Connection is closed".
  const checked = engine.useRecord(emptyRecord).catch(() => {});
  return { engine, redis, close: async () => { await checked; await engine.close(); await redis.quit(); } };
}

/**
 * Moves the scripts' clock forward (every partition and key shard of this
 * engine): the `clock_offset_ms` of each meta hash (docs/design.md, "Key layout"), on
 * the suite's Redis unless the engine runs on another.
 */
export async function advanceClock(engine: Engine, ms: number, redisUrl: string = inject('redisUrl')): Promise<void> {
  const redis = testRedis(redisUrl);
  try {
    await moveScriptClock(redis, engine, ms);
  } finally {
    redis.disconnect();
  }
}

/** n SKU names that live in one partition (different from `avoid` when given). */
export function skusInOnePartition(engine: Engine, prefix: string, n: number, avoid = -1): string[] {
  const found = new Map<number, string[]>();
  for (let i = 0; ; i++) {
    const sku = `${prefix}-${i}`;
    const p = partitionOf(sku, engine.settings.partitions);
    if (p === avoid) continue;
    const list = found.get(p) ?? [];
    list.push(sku);
    found.set(p, list);
    if (list.length === n) return list;
  }
}

/** n SKU names, each in a partition of its own. */
export function skusInDistinctPartitions(engine: Engine, prefix: string, n: number): string[] {
  const skus: string[] = [];
  const used = new Set<number>();
  for (let i = 0; skus.length < n; i++) {
    const sku = `${prefix}x${i}`;
    const p = partitionOf(sku, engine.settings.partitions);
    if (used.has(p)) continue;
    used.add(p);
    skus.push(sku);
  }
  return skus;
}

/** Invariant C: available + reserved + sold == total, all >= 0. */
export function conserved(stock: Stock): boolean {
  const { total, available, reserved, sold } = stock;
  return available >= 0 && reserved >= 0 && sold >= 0 && available + reserved + sold === total;
}

export async function stockOf(engine: Engine, sku: string): Promise<Stock> {
  const product = await engine.getProduct(sku);
  if (!product) throw new Error(`no product ${sku}`);
  return product.stock;
}

/** Reserves the items for a user, begins payment and commits (what a captured confirm does); the order id. */
export async function confirmOrder(engine: Engine, userId: string, items: { sku: string; qty: number }[]): Promise<string> {
  const held = await engine.reserve({ userId, items });
  if (held.kind !== 'held') throw new Error(`reserve: ${held.kind}`);
  const id = held.reservation.id;
  const paying = await engine.beginPayment(id);
  if (paying.kind !== 'paying') throw new Error(`beginPayment: ${paying.kind}`);
  const committed = await engine.commit(id, { amountCents: paying.totalCents, reference: `ch_${id}` });
  if (committed.kind !== 'confirmed') throw new Error(`commit: ${committed.kind}`);
  return committed.orderId;
}
