import type { EngineContext } from './context.ts';
import { perPartition } from './per-partition.ts';

/** Who expired a hold: a reserve call's reclaim, the sweeper, or a step on a hold past its deadline (confirm, release). */
export type ExpiredBy = 'reserve' | 'sweeper' | 'access';

/**
 * Holds by state and expiries, over every partition, as the scripts count
 * them in each partition's meta hash (lua/includes/counts.lua): exact across
 * every process, and kept across restarts, since Redis holds them with the
 * holds. A hold counts once (its home part).
 */
export interface HoldCounts {
  /** Live holds made since counting began (holds made before are not counted). */
  live: { held: number; pending: number; paying: number };
  /** Holds expired since counting began, by who expired them. */
  expired: Record<ExpiredBy, number>;
}

const fields = ['holds:held', 'holds:pending', 'holds:paying', 'expired:reserve', 'expired:sweeper', 'expired:access'] as const;

/** One HMGET per partition, sent together (a partition whose read fails counts 0). */
export async function readHoldCounts(ctx: EngineContext): Promise<HoldCounts> {
  const replies = await perPartition(ctx.settings.partitions, (p) => ctx.redis.hmget(ctx.keys.partition(p).meta, ...fields).catch(() => null));
  const sums: number[] = fields.map(() => 0);
  for (const values of replies) {
    if (!values) continue;
    values.forEach((v, i) => { sums[i]! += Number(v ?? 0); });
  }
  const [held, pending, paying, reserve, sweeper, access] = sums as [number, number, number, number, number, number];
  return { live: { held, pending, paying }, expired: { reserve, sweeper, access } };
}
