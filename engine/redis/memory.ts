import type { Cluster, Redis } from 'ioredis';
import { StockadeError } from '../../common/errors.ts';

export interface MemoryState {
  usedBytes: number;
  /** Redis's maxmemory; 0 when it has none (then no watermark applies). */
  maxBytes: number;
  highWatermarkPct: number;
  /** Past the watermark: new holds and new claims are refused. */
  overloaded: boolean;
  /** When Redis was last asked (ms since the epoch); 0 before the first answer. */
  checkedAtMs: number;
}

/** A number field of INFO's text, or 0. */
function infoField(info: string, name: string): number {
  const match = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

/**
 * Watches Redis memory against its maxmemory. Past the high watermark the
 * engine refuses what would grow Redis for new traffic (holds, idempotency
 * claims) while the work that settles existing holds goes on in the headroom
 * left (and its scripts may run past maxmemory: `allow-oom`). Redis is asked
 * at most every checkMs, on demand; the answer is used until then.
 */
export class MemoryGuard {
  private state: MemoryState;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly redis: Redis | Cluster, highWatermarkPct: number, private readonly checkMs: number) {
    this.state = { usedBytes: 0, maxBytes: 0, highWatermarkPct, overloaded: false, checkedAtMs: 0 };
  }

  get current(): MemoryState {
    return { ...this.state };
  }

  /** False past the watermark; asks Redis first when the last answer is stale. */
  async hasRoom(): Promise<boolean> {
    const stale = Date.now() - this.state.checkedAtMs >= this.checkMs;
    if (stale) {
      const refresh = this.refresh();
      // The first decision waits for an answer; later ones use the last while a new one comes.
      if (this.state.checkedAtMs === 0) await refresh;
    }
    return !this.state.overloaded;
  }

  /** The refusal past the watermark (503 overloaded). */
  full(): StockadeError {
    const { usedBytes, maxBytes, highWatermarkPct } = this.state;
    return new StockadeError('OVERLOADED',
      `Redis memory (${usedBytes} bytes) is past ${highWatermarkPct}% of maxmemory (${maxBytes}): new holds are refused until it falls`);
  }

  /**
   * Asks Redis now (one question in flight at a time). Never rejects: when
   * Redis does not answer, the last state stands and the next call asks again
   * (the request itself then meets Redis's error).
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.ask().catch(() => {}).finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  private async ask(): Promise<void> {
    // On Redis Cluster every master has its own memory: the fullest one decides.
    const nodes = this.redis.isCluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis];
    const infos = await Promise.all(nodes.map((node) => node.info('memory')));
    const fullness = (info: string) => infoField(info, 'used_memory') / Math.max(1, infoField(info, 'maxmemory'));
    const info = infos.reduce((a, b) => (infoField(b, 'maxmemory') > 0 && fullness(b) > fullness(a) ? b : a));
    const usedBytes = infoField(info, 'used_memory');
    const maxBytes = infoField(info, 'maxmemory');
    const overloaded = maxBytes > 0 && usedBytes * 100 >= maxBytes * this.state.highWatermarkPct;
    this.state = { ...this.state, usedBytes, maxBytes, overloaded, checkedAtMs: Date.now() };
  }
}
