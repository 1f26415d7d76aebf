import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { ProductInput } from '../../types.ts';
import { fencedOf, type FencedReply } from './fence.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export type CreateProductReply = 'created' | 'exists' | FencedReply;

export const createProductSpec = {
  name: 'createProduct',
  codes: [Code.OK, Code.EXISTS, Code.FENCED],
  decode(reply: unknown): CreateProductReply {
    const r = flat('createProduct', reply);
    if (r[0] === Code.OK) return 'created';
    if (r[0] === Code.EXISTS) return 'exists';
    return fencedOf(r) ?? unknownReply('createProduct', reply);
  },
} satisfies ScriptSpec;

/** `operationId`: a repeat of the same call answers its first reply. */
export async function createProduct(ctx: EngineContext, partition: number, input: ProductInput,
  operationId: string): Promise<'created' | 'exists'> {
  const k = ctx.keys.partition(partition);
  return ctx.fencing.guard(partition, async () => createProductSpec.decode(await ctx.scripts.createProduct(k.skus, k.holds,
    k.gc, k.outbox, k.meta, input.sku, input.name, input.priceCents, input.perUserLimit ?? 0, input.stock, operationId,
    ctx.recordRetentionMs)));
}
