import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { emptyRecord, Engine } from '../engine/index.ts';

/**
 * What Redis memory each kind of record costs: `used_memory` before and after
 * `count` of them, divided by count. Requests go through the engine's batched
 * path in groups of `concurrency`, one unit of one SKU each.
 */
export interface MemoryBenchResult {
  count: number;
  /** A hold without an Idempotency-Key: its record and its share of the due index. */
  holdBytes: number;
  /** What an Idempotency-Key adds to a hold: its claim and its share of the claims' gc index. */
  claimBytes: number;
  /** A refused request with an Idempotency-Key (sold out): its claim and its recorded refusal. */
  refusalBytes: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

async function perRequest(redis: Redis, count: number, concurrency: number, request: (i: number) => Promise<unknown>): Promise<number> {
  const before = await usedMemory(redis);
  for (let done = 0; done < count; done += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, count - done) }, (_, j) => request(done + j)));
  }
  return Math.round((await usedMemory(redis) - before) / count);
}

export async function benchMemory(o: { redisUrl: string; count: number; concurrency?: number; report?: (phase: string) => void }): Promise<MemoryBenchResult> {
  const redis = new Redis(o.redisUrl);
  const concurrency = o.concurrency ?? 128;
  const engine = Engine.create(redis, { keyPrefix: `mem${randomBytes(3).toString('hex')}:`, inflightMax: 1_000_000 });
  try {
    await engine.useRecord(emptyRecord);
    await engine.createProduct({ sku: 'M-OPEN', name: 'open', priceCents: 1000, stock: 1_000_000_000 });
    await engine.createProduct({ sku: 'M-GONE', name: 'gone', priceCents: 1000, stock: 0 });
    const line = (sku: string) => [{ sku, qty: 1 }];
    const report = o.report ?? (() => {});
    report('holds');
    const holdBytes = await perRequest(redis, o.count, concurrency, (i) => engine.reserve({ userId: `h${i}`, items: line('M-OPEN') }));
    report('holds with an Idempotency-Key');
    const keyedBytes = await perRequest(redis, o.count, concurrency,
      (i) => engine.reserve({ userId: `k${i}`, items: line('M-OPEN'), idempotencyKey: `client:reserve:memory-bench-key-${i}` }));
    report('refusals with an Idempotency-Key');
    const refusalBytes = await perRequest(redis, o.count, concurrency,
      (i) => engine.reserve({ userId: `r${i}`, items: line('M-GONE'), idempotencyKey: `client:reserve:memory-bench-refused-${i}` }));
    return { count: o.count, holdBytes, claimBytes: keyedBytes - holdBytes, refusalBytes };
  } finally {
    await engine.close(); // its sold-out subscription, if a refusal started one
    redis.disconnect();
  }
}
