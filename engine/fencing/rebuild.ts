import { StockadeError } from '../../common/errors.ts';
import { catalogKey } from '../catalog/sku-index.ts';
import type { EngineContext } from '../redis/context.ts';
import { partitionOf } from '../redis/partition.ts';
import type { Fencing } from './fencing.ts';
import { perPartition } from '../redis/per-partition.ts';

/** One product as PostgreSQL has it, for a rebuild. */
export interface ProductSnapshot {
  sku: string;
  name: string;
  priceCents: number;
  perUserLimit: number;
  /** The ledger's total (sum of its deltas). */
  total: number;
  /** Units in orders. */
  sold: number;
}

/** What PostgreSQL holds for one partition: its products, the units each user bought of its limited SKUs, its marker. */
export interface RecordSnapshot {
  products: ProductSnapshot[];
  /** Units bought per (sku, user) of SKUs with a per-user limit (what the reserve script's limit check reads). */
  userUnits: { sku: string; userId: string; units: number }[];
  markSeq: number;
}

export interface RebuiltPartition {
  partition: number;
  products: number;
  /** Holds that were live in Redis and are gone (a --force rebuild over a Redis with state; 0 after FLUSHALL). */
  holdsDropped: number;
}

/** What a rebuild would replace in one partition. */
export interface PartitionContents {
  partition: number;
  initialised: boolean;
  /** Hold records (live or kept for retention) and operation replies. */
  records: number;
  /** Outbox and parked entries not yet in PostgreSQL. */
  unwritten: number;
}

export async function partitionContents(ctx: EngineContext): Promise<PartitionContents[]> {
  // One pipeline per partition (its keys share one slot), the partitions' sent together.
  const v = (await perPartition(ctx.settings.partitions, async (p) => {
    const k = ctx.keys.partition(p);
    const replies = (await ctx.redis.pipeline().hexists(k.meta, 'init').hlen(k.holds).xlen(k.outbox).xlen(k.parked).exec())!;
    return replies.map(([error, n]) => { if (error) throw error; return Number(n); });
  })).flat();
  return Array.from({ length: ctx.settings.partitions }, (_, p) => ({ partition: p, initialised: v[4 * p] === 1,
    records: v[4 * p + 1]!, unwritten: v[4 * p + 2]! + v[4 * p + 3]! }));
}

/** Removes every partition's init: nothing is granted until each is rebuilt (a rebuild's first step). */
export async function uninitialise(ctx: EngineContext): Promise<void> {
  await perPartition(ctx.settings.partitions, (p) => ctx.redis.hdel(ctx.keys.partition(p).meta, 'init'));
}

/** HSET arguments written per command: bounded, whatever the partition's size. */
const fieldsPerCommandMax = 10_000;

/**
 * Rebuilds one partition of Redis from PostgreSQL (`reconcile rebuild`), after
 * its init was removed (uninitialise: nothing is granted, so nothing changes
 * under the snapshot) and then its snapshot taken: the partition's hot keys
 * deleted and written again
 * (products with available = total - sold and reserved 0, the per-user counts,
 * the catalog index), and init set last with the fence lifted (liftFence), so
 * that an interrupted rebuild leaves the partition uninitialised (refusing)
 * and the next rebuild does it again. Its outbox must be drained: events not
 * yet in PostgreSQL would be lost or counted twice.
 */
export async function rebuildPartition(ctx: EngineContext, fencing: Fencing, partition: number,
  snapshot: RecordSnapshot): Promise<RebuiltPartition> {
  const k = ctx.keys.partition(partition);
  const [init, outbox, parked] = await Promise.all([ctx.redis.hexists(k.meta, 'init'), ctx.redis.xlen(k.outbox), ctx.redis.xlen(k.parked)]);
  if (init === 1) throw new StockadeError('ASSERTION', `partition ${partition} is initialised: uninitialise it before its snapshot is taken`);
  if (outbox + parked > 0) {
    throw new StockadeError('ASSERTION', `partition ${partition} has ${outbox} outbox and ${parked} parked entries not in PostgreSQL: `
      + 'let write-through drain them (or run `reconcile repair`) before a rebuild');
  }
  for (const p of snapshot.products) {
    if (partitionOf(p.sku, ctx.settings.partitions) !== partition) throw new StockadeError('ASSERTION', `${p.sku} is not in partition ${partition}`);
  }
  const holdsDropped = await ctx.redis.hlen(k.holds);
  await ctx.redis.del(k.skus, k.holds, k.due, k.dueHolds, k.legacyDue, k.voided, k.paying, k.users, k.gc);
  const skuFields: (string | number)[] = [];
  for (const p of snapshot.products) {
    skuFields.push(`${p.sku}:t`, p.total, `${p.sku}:a`, p.total - p.sold, `${p.sku}:r`, 0, `${p.sku}:s`, p.sold,
      `${p.sku}:p`, p.priceCents, `${p.sku}:l`, p.perUserLimit, `${p.sku}:n`, p.name);
  }
  const userFields = snapshot.userUnits.filter((u) => u.units > 0).flatMap((u) => [`${u.sku}:${u.userId}`, u.units]);
  for (let at = 0; at < skuFields.length; at += fieldsPerCommandMax) await ctx.redis.hset(k.skus, ...skuFields.slice(at, at + fieldsPerCommandMax));
  for (let at = 0; at < userFields.length; at += fieldsPerCommandMax) await ctx.redis.hset(k.users, ...userFields.slice(at, at + fieldsPerCommandMax));
  const skus = snapshot.products.map((p) => p.sku);
  for (let at = 0; at < skus.length; at += fieldsPerCommandMax) {
    await ctx.redis.zadd(catalogKey(ctx.settings.keyPrefix), ...skus.slice(at, at + fieldsPerCommandMax).flatMap((sku) => [0, sku]));
  }
  await fencing.initialise(partition, snapshot.markSeq);
  return { partition, products: snapshot.products.length, holdsDropped };
}
