import type { EngineContext } from '../context.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export interface RateLimitHit {
  allowed: boolean;
  retryAfterMs: number;
}

export const hitRateLimitSpec = {
  name: 'hitRateLimit',
  codes: [1, 0],
  decode(reply: unknown): RateLimitHit {
    const [allowed, retryAfterMs] = flat('hitRateLimit', reply);
    if (allowed !== 1 && allowed !== 0) return unknownReply('hitRateLimit', reply);
    return { allowed: allowed === 1, retryAfterMs: Number(retryAfterMs) };
  },
} satisfies ScriptSpec;

export async function hitRateLimit(ctx: EngineContext, counterKey: string, limit: number, windowMs: number): Promise<RateLimitHit> {
  return hitRateLimitSpec.decode(await ctx.scripts.hitRateLimit(counterKey, limit, windowMs));
}
