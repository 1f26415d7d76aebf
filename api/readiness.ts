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
 * Whether any partition is fenced (DESIGN.md §3: Redis behind PostgreSQL, or
 * empty): the process is not ready (reason `fenced`) until `reconcile
 * repair|rebuild` has made the stores agree.
 */
function isFenced(d: Pick<ApiDeps, 'engine'>): Promise<boolean> {
  return d.engine.isFenced();
}

/** The answer of `work`, or `fallback` when it fails or takes longer than checkMs (a store that hangs must not stall the refreshes). */
async function within<T>(work: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), checkMs); });
  try {
    return await Promise.race([work.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Readiness computed afresh: a PING, a `select 1`, Redis memory, every partition's outbox length and the parked entries. */
export async function checkReadiness(d: Pick<ApiDeps, 'engine' | 'redis' | 'sql'>): Promise<Readiness> {
  const [pinged, postgres] = await Promise.all([
    fulfilsWithin(d.redis.ping(), checkMs),
    fulfilsWithin(d.sql`select 1`, checkMs),
  ]);
  const detail = pinged
    ? await within(Promise.all([d.engine.memory(true), d.engine.outbox.outboxLengths(), d.engine.outbox.parked(), isFenced(d)]), null)
    : null;
  const redis = detail !== null; // Redis that answers a PING but not what follows is not holding and confirming either
  const [memory, lengths, parked, fenced] = detail ?? [null, null, null, false];
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

/**
 * Readiness as of the last check, refreshed in the background (one check per
 * refreshMs, after the previous one ended), so a probe, a flood of probes or a
 * metrics scrape costs no Redis or SQL work: each reads the last state. One
 * per process (the runtime's); the first read starts the checks.
 */
export class ReadinessMonitor {
  private state: Readiness | null = null;
  private first: Promise<Readiness> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Checks finished since the start (tests bound the stores' work by it). */
  checks = 0;

  constructor(private readonly d: Pick<ApiDeps, 'engine' | 'redis' | 'sql'>, readonly refreshMs: number) {}

  /** The last state; the first call starts the checks and waits for the first. */
  current(): Promise<Readiness> {
    return this.state ? Promise.resolve(this.state) : (this.first ??= this.check());
  }

  /** The last state, null before the first check ended. */
  get last(): Readiness | null {
    return this.state;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async check(): Promise<Readiness> {
    try {
      this.state = await checkReadiness(this.d);
      this.checks += 1;
      return this.state;
    } finally {
      // checkReadiness does not throw (each store's failure is a reason); were it to, the checks still go on.
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.check().catch(() => {}), this.refreshMs);
        this.timer.unref();
      }
    }
  }
}

/** The /readyz body: the status for anyone, the detail for the admin token (and on the ops listener). */
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
