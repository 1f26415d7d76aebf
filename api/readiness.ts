import { fulfilsWithin, type MemoryState } from '../engine/index.ts';
import type { ApiDeps } from './deps.ts';

/** How long readiness waits for each store to answer. Not a setting: a probe's own timeout (its caller's) sits above it. */
const checkMs = 1_000;
/** A partition's outbox longer than this share of STOCKADE_OUTBOX_LENGTH_MAX means write-through is behind. */
const backlogDegradedShare = 0.1;

/**
 * Why a process is not ready or degraded. Not ready (503): it cannot hold and
 * confirm, so a load balancer should send its traffic elsewhere. Degraded
 * (200): holds and confirms work (write-through buffers them in Redis), but
 * something behind them does not; taking the process out would not help.
 */
export const readinessReasons = {
  redis_unreachable: 'not_ready',
  fenced: 'not_ready',
  memory_overloaded: 'not_ready',
  postgres_unreachable: 'degraded',
  outbox_backlog: 'degraded',
  outbox_parked: 'degraded',
} as const;
export type ReadinessReason = keyof typeof readinessReasons;

export interface Readiness {
  status: 'ready' | 'degraded' | 'not_ready';
  /** Empty when ready. */
  reasons: ReadinessReason[];
  redis: boolean;
  postgres: boolean;
  fenced: boolean;
  /** Outbox entries not yet written through, and parked ones (over every partition); null when Redis did not answer. */
  outboxBacklog: number | null;
  outboxParked: number | null;
  memory: MemoryState | null;
}

/**
 * DESIGN.md §3 fencing is not built yet. When the engine keeps its marker (Redis
 * behind PostgreSQL), ask it here: true makes the process not ready (reason
 * `fenced`) until `reconcile repair|rebuild` has made the stores agree.
 */
async function isFenced(_d: Pick<ApiDeps, 'engine'>): Promise<boolean> {
  return false;
}

/** What /readyz answers, computed afresh (also for a metrics scrape: status and reasons as gauges). */
export async function readiness(d: Pick<ApiDeps, 'engine' | 'redis' | 'sql'>): Promise<Readiness> {
  const [redis, postgres] = await Promise.all([
    fulfilsWithin(d.redis.ping(), checkMs),
    fulfilsWithin(d.sql`select 1`, checkMs),
  ]);
  const [memory, lengths, parked, fenced] = redis
    ? await Promise.all([d.engine.memory(true), d.engine.outbox.outboxLengths(), d.engine.outbox.parked(), isFenced(d)])
    : [null, null, null, false];
  const backlogDegraded = d.engine.settings.outboxLengthMax * backlogDegradedShare;
  const reasons: ReadinessReason[] = [];
  if (!redis) reasons.push('redis_unreachable');
  if (fenced) reasons.push('fenced');
  if (memory?.overloaded) reasons.push('memory_overloaded');
  if (!postgres) reasons.push('postgres_unreachable');
  if (lengths?.some((n) => n > backlogDegraded)) reasons.push('outbox_backlog');
  if (parked) reasons.push('outbox_parked');
  const status = reasons.some((r) => readinessReasons[r] === 'not_ready') ? 'not_ready' : reasons.length > 0 ? 'degraded' : 'ready';
  return { status, reasons, redis, postgres, fenced, outboxBacklog: lengths && lengths.reduce((a, b) => a + b, 0), outboxParked: parked, memory };
}

/** The /readyz body: the status for anyone, the detail for the admin token only. */
export function readinessView(r: Readiness, admin: boolean) {
  if (!admin) return { status: r.status };
  const m = r.memory;
  return {
    status: r.status,
    reasons: r.reasons,
    checks: { redis: r.redis ? 'ok' : 'down', postgres: r.postgres ? 'ok' : 'down', fenced: r.fenced },
    outbox_backlog: r.outboxBacklog,
    outbox_parked: r.outboxParked,
    memory: m && { used_bytes: m.usedBytes, max_bytes: m.maxBytes, high_watermark_pct: m.highWatermarkPct, overloaded: m.overloaded },
  };
}
