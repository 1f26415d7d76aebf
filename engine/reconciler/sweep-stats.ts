import { StockadeError } from '../../common/errors.ts';
import type { EngineContext } from '../redis/context.ts';

/**
 * What each sweep did, summed over every run in every process, in one Redis
 * hash (fields `<sweep>:<count>`): a sweep runs in whichever worker process
 * took its job, so only Redis sees them all, and GET /metrics reads them once
 * per scrape. Counts are what a run reports (`expired`, `purged`, `committed`,
 * ... `failed`), plus `runs`, `skipped`, `ms` (time spent) and the last run's
 * `last_ms` and `last_at` (ms since the epoch, when it ended).
 */
export type SweepCounts = Record<string, number>;

/** Per sweep name, its counts. */
export type SweepStats = Record<string, SweepCounts>;

const statsKey = (ctx: EngineContext) => `${ctx.keys.prefix}{sweeps}:stats`;

/** Adds one run's counts (`skipped`: an iteration not run) and its duration; one MULTI on one key. */
export async function recordSweepRun(ctx: EngineContext, sweep: string, counts: SweepCounts, durationMs: number | null): Promise<void> {
  const key = statsKey(ctx);
  const multi = ctx.redis.multi();
  for (const [field, n] of Object.entries(counts)) multi.hincrby(key, `${sweep}:${field}`, Math.round(n)); // zeros too: the fields a sweep reports exist
  if (durationMs !== null) {
    multi.hincrby(key, `${sweep}:ms`, Math.round(durationMs));
    multi.hset(key, `${sweep}:last_ms`, Math.round(durationMs), `${sweep}:last_at`, Date.now());
  }
  await multi.exec();
}

export async function readSweepStats(ctx: EngineContext): Promise<SweepStats> {
  const stats: SweepStats = {};
  for (const [field, value] of Object.entries(await ctx.redis.hgetall(statsKey(ctx)))) {
    const at = field.lastIndexOf(':');
    if (at <= 0) continue;
    (stats[field.slice(0, at)] ??= {})[field.slice(at + 1)] = Number(value);
  }
  return stats;
}

/** A sweep's last report, as text (e.g. verify's summary), at most this long: a report is a summary, not a dump. */
export const sweepReportLengthMax = 64 * 1024;

const reportKey = (ctx: EngineContext, sweep: string) => `${ctx.keys.prefix}{sweeps}:report:${sweep}`;

/** Keeps a sweep's last report (replacing the one before) for GET /metrics. */
export async function recordSweepReport(ctx: EngineContext, sweep: string, text: string): Promise<void> {
  if (text.length > sweepReportLengthMax) throw new StockadeError('ASSERTION', `a ${sweep} report of ${text.length} characters`);
  await ctx.redis.set(reportKey(ctx, sweep), text);
}

/** A sweep's last report, or null before its first. */
export function readSweepReport(ctx: EngineContext, sweep: string): Promise<string | null> {
  return ctx.redis.get(reportKey(ctx, sweep));
}
