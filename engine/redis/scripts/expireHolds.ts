import type { EngineContext } from '../context.ts';
import { flat, type ScriptSpec } from './reply.ts';

export interface ExpireStep {
  expired: number;
  /** SKUs with due holds left for later steps. */
  stillDue: number;
}

export const expireHoldsSpec = {
  name: 'expireHolds',
  codes: [],
  decode(reply: unknown): ExpireStep {
    const [expired, stillDue] = flat('expireHolds', reply);
    return { expired: Number(expired), stillDue: Number(stillDue) };
  },
} satisfies ScriptSpec;

export async function expireHolds(ctx: EngineContext, partition: number): Promise<ExpireStep> {
  const k = ctx.keys.partition(partition);
  return expireHoldsSpec.decode(await ctx.scripts.expireHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta,
    k.legacyDue, ctx.settings.expireWorkMax, ctx.recordRetentionMs));
}
