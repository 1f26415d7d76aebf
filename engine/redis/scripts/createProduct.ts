import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { PartitionKeys } from '../keys.ts';
import type { ProductInput } from '../../types.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export type CreateProductReply = 'created' | 'exists';

export const createProductSpec = {
  name: 'createProduct',
  codes: [Code.OK, Code.EXISTS],
  decode(reply: unknown): CreateProductReply {
    const r = flat('createProduct', reply);
    if (r[0] === Code.OK) return 'created';
    if (r[0] === Code.EXISTS) return 'exists';
    return unknownReply('createProduct', reply);
  },
} satisfies ScriptSpec;

/** `operationId`: a repeat of the same call answers its first reply. */
export async function createProduct(ctx: EngineContext, k: PartitionKeys, input: ProductInput,
  operationId: string): Promise<CreateProductReply> {
  return createProductSpec.decode(await ctx.scripts.createProduct(k.skus, k.holds, k.gc, k.outbox, k.meta,
    input.sku, input.name, input.priceCents, input.perUserLimit ?? 0, input.stock, operationId, ctx.recordRetentionMs));
}
