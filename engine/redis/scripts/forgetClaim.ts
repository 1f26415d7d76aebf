import type { EngineContext } from '../context.ts';
import { unknownReply, type ScriptSpec } from './reply.ts';

export const forgetClaimSpec = {
  name: 'forgetClaim',
  codes: [1, 0],
  /** True when the claim named the id and is gone; false when it names another request (or none). */
  decode(reply: unknown): boolean {
    if (reply === 1) return true;
    if (reply === 0) return false;
    return unknownReply('forgetClaim', reply);
  },
} satisfies ScriptSpec;

export async function forgetClaim(ctx: EngineContext, shard: number, key: string, id: string): Promise<boolean> {
  return forgetClaimSpec.decode(await ctx.scripts.forgetClaim(ctx.keys.shard(shard).claims, key, id));
}
