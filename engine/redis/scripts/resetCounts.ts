import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { Stock } from '../../types.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export type ResetCountsReply = { kind: 'set' } | { kind: 'not_found' } | { kind: 'changed' };

export const resetCountsSpec = {
  name: 'resetCounts',
  codes: [Code.OK, Code.NO_PRODUCT, Code.CHANGED],
  decode(reply: unknown): ResetCountsReply {
    const r = flat('resetCounts', reply);
    if (r[0] === Code.OK) return { kind: 'set' };
    if (r[0] === Code.NO_PRODUCT) return { kind: 'not_found' };
    if (r[0] === Code.CHANGED) return { kind: 'changed' };
    return unknownReply('resetCounts', reply);
  },
} satisfies ScriptSpec;

/** New counts of a SKU: available and reserved, and total and sold only where given. */
export interface NextCounts {
  available: number;
  reserved: number;
  total?: number;
  sold?: number;
}

/** Sets the counts of a SKU whose counts are still `read`. */
export async function resetCounts(ctx: EngineContext, partition: number, sku: string, read: Stock, next: NextCounts): Promise<ResetCountsReply> {
  const k = ctx.keys.partition(partition);
  return resetCountsSpec.decode(await ctx.scripts.resetCounts(k.skus,
    sku, read.total, read.available, read.reserved, read.sold, next.available, next.reserved, next.total ?? '', next.sold ?? ''));
}
