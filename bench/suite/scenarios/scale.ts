import { Redis } from 'ioredis';
import { Engine, stockUnitsMax } from '../../../engine/index.ts';
import { recordView } from '../../../store/marks.ts';
import { advanceClock, makeHolds, sweepUntilNoneHeld, usedMemory } from '../../expire.ts';
import { equal, onlyStatuses, verifyStores } from '../checks.ts';
import { createProduct, eachLimited, type Scenario, type SuiteContext } from '../context.ts';
import { steadyLoad } from './steady.ts';
import type { Check, LoadRun } from '../types.ts';

/**
 * How cost grows with the work. Holds are made in bulk through an engine in
 * this process (the same scripts the server runs, ~40,000/s: over HTTP a
 * million would take minutes), all on the measured SKU's partition, the worst
 * case for its hold index. "Due" is made by moving the scripts' clock past the
 * longest TTL (each partition's clock offset, as `stockade bench expire` does),
 * then the expire sweep runs until none is held (the server's own sweeps run too).
 */
const levels = { quick: [0, 10_000, 100_000], full: [0, 100_000, 1_000_000] };
const expiryHolds = 100_000;
const hotSkuCounts = [1, 10, 1_000];

export const scale: Scenario = {
  name: 'scale',
  description: 'reserve throughput and Redis CPU per hold with many active holds; Redis memory per active hold; time to expire 100,000 due holds; 1, 10 and 1,000 hot SKUs',
  expectedSeconds: (o) => (o.seconds + o.warmupSeconds) * 6 + (o.quick ? 12 : 45),
  singleRedis: true,
  run: async (ctx) => {
    const redis = new Redis(ctx.stack.redisUrl);
    try {
      const engine = Engine.create(redis, { inflightMax: 1_000_000 }, ctx.stack.env);
      await engine.useRecord(recordView(ctx.stack.sql));
      try {
        return await measure(ctx, engine, redis);
      } finally {
        await engine.close();
      }
    } finally {
      redis.disconnect();
    }
  },
};

async function measure(ctx: SuiteContext, engine: Engine, redis: Redis) {
  const sku = `${ctx.prefix}SCALE`;
  await createProduct(ctx, sku, stockUnitsMax);
  const runs: LoadRun[] = [];
  const checks: Check[] = [];
  await expireAll(ctx, engine, redis);
  const [zero, ...more] = ctx.quick ? levels.quick : levels.full;
  runs.push(await reserveRun(ctx, `scale: ${zero} active holds`, [sku], checks));

  await expireAll(ctx, engine, redis);
  const memoryBefore = await usedMemory(redis);
  await fill(ctx, engine, sku, expiryHolds);
  const memoryBytesPerHold = Math.round((await usedMemory(redis) - memoryBefore) / expiryHolds);
  const expiry = await expireAll(ctx, engine, redis);
  checks.push(equal(`the sweep expired the ${expiryHolds.toLocaleString('en-US')} due holds`, expiryHolds, expiry.expired, 'holds expired'));

  for (const level of more) {
    await fill(ctx, engine, sku, level - (await engine.holdCounts()).live.held);
    runs.push(await reserveRun(ctx, `scale: ${level.toLocaleString('en-US')} active holds`, [sku], checks));
  }
  const cleanup = await expireAll(ctx, engine, redis);
  for (const count of hotSkuCounts) {
    const skus = Array.from({ length: count }, (_, i) => `${ctx.prefix}SCALE${count}-${i}`);
    // Through the engine (the same script as POST /v1/products): 1,000 over HTTP took ~5 s of a quick run.
    await eachLimited(skus, 64, async (s) => {
      const made = await engine.createProduct({ sku: s, name: s, priceCents: 1_000, stock: stockUnitsMax });
      if (made.kind !== 'created') throw new Error(`create ${s}: ${made.kind}`);
    });
    runs.push(await reserveRun(ctx, `scale: ${count.toLocaleString('en-US')} hot SKU${count === 1 ? '' : 's'}`, skus, checks));
  }
  checks.push(await verifyStores(ctx.stack));
  const figures = {
    'Redis memory per active hold (B)': memoryBytesPerHold,
    [`time to expire ${expiryHolds.toLocaleString('en-US')} due holds (s)`]: expiry.seconds,
    [`time to expire ${cleanup.expired.toLocaleString('en-US')} due holds (s)`]: cleanup.seconds,
  };
  return { name: 'scale', description: scale.description, runs, figures, checks };
}

/** A steady reserve run over the SKUs (request n reserves skus[n % count]); its statuses checked. */
async function reserveRun(ctx: SuiteContext, label: string, skus: string[], checks: Check[]): Promise<LoadRun> {
  const { run } = await steadyLoad(ctx, label, '/v1/reservations', skus, { n: 0 }); // the counter spans the warm-up and the run: every key is new
  checks.push(onlyStatuses(run, ['201']));
  return run;
}

/** Makes `count` holds of one unit on the SKU, each for its own user. */
function fill(ctx: SuiteContext, engine: Engine, sku: string, count: number): Promise<void> {
  return makeHolds(engine, count, () => sku, `${ctx.prefix}filler`,
    (made) => ctx.report(`holds made: ${made.toLocaleString('en-US')} of ${count.toLocaleString('en-US')}`));
}

/** Every held hold made due (the scripts' clock moved past the longest TTL), then swept until none is held. */
async function expireAll(ctx: SuiteContext, engine: Engine, redis: Redis): Promise<{ expired: number; seconds: number }> {
  const due = (await engine.holdCounts()).live.held;
  await advanceClock(redis, engine, engine.settings.holdTtlMsMax + 1_000);
  const { seconds } = await sweepUntilNoneHeld(engine,
    (pass) => ctx.report(`expiring ${due.toLocaleString('en-US')} due holds: pass ${pass}`));
  return { expired: due, seconds: Number(seconds.toFixed(2)) };
}
