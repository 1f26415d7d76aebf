import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { fencedOf, type FencedReply } from './fence.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export type AdjustStockReply =
  | { kind: 'adjusted'; total: number; available: number }
  | { kind: 'not_found' }
  | { kind: 'would_go_negative'; available: number }
  | FencedReply;

export const adjustStockSpec = {
  name: 'adjustStock',
  codes: [Code.OK, Code.NO_PRODUCT, Code.WOULD_GO_NEGATIVE, Code.FENCED],
  decode(reply: unknown): AdjustStockReply {
    const r = flat('adjustStock', reply);
    if (r[0] === Code.OK) return { kind: 'adjusted', total: Number(r[1]), available: Number(r[2]) };
    if (r[0] === Code.NO_PRODUCT) return { kind: 'not_found' };
    if (r[0] === Code.WOULD_GO_NEGATIVE) return { kind: 'would_go_negative', available: Number(r[1]) };
    return fencedOf(r) ?? unknownReply('adjustStock', reply);
  },
} satisfies ScriptSpec;

/** `operationId`: a repeat of the same call answers its first reply. */
export async function adjustStock(ctx: EngineContext, partition: number, sku: string, delta: number,
  operationId: string): Promise<Exclude<AdjustStockReply, FencedReply>> {
  const k = ctx.keys.partition(partition);
  return ctx.fencing.guard(partition, async () => adjustStockSpec.decode(await ctx.scripts.adjustStock(k.skus, k.holds, k.gc,
    k.outbox, k.meta, sku, delta, operationId, ctx.recordRetentionMs)));
}
