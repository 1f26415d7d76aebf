import type { Engine } from '../engine/index.ts';
import { problem, type Reply } from './problems.ts';

const windowMs = 1_000;

/**
 * Fixed-window rate limits in Redis, shared by every API process: per token and
 * per user. A limit of 0 is off (the default, so benchmarks measure the engine).
 * Windows follow this process's clock; a few ms of skew between processes only
 * moves a window's edge.
 */
export class RateLimiter {
  constructor(private readonly engine: Engine, private readonly perTokenPerSec: number, private readonly perUserPerSec: number) {}

  get limitsUsers(): boolean {
    return this.perUserPerSec > 0;
  }

  token(role: string): Promise<Reply | null> {
    return this.hit(`t:${role}`, this.perTokenPerSec);
  }

  user(userId: string): Promise<Reply | null> {
    return this.hit(`u:${userId}`, this.perUserPerSec);
  }

  private async hit(subject: string, limit: number): Promise<Reply | null> {
    if (limit <= 0) return null;
    const { allowed, retryAfterMs } = await this.engine.hitRateLimit(subject, limit, windowMs);
    if (allowed) return null;
    const retryAfterSec = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return problem('rate-limited', `more than ${limit} requests per second`, { retry_after_s: retryAfterSec }, { 'retry-after': String(retryAfterSec) });
  }
}
