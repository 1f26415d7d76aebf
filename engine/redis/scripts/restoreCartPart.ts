import { Code, holdStateOf, statusCodes, type HoldState } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { Line } from '../records.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** A part restored as paying (now or before), or committed since; else why not (as restoreOrder's). */
export type RestoreCartPartReply =
  | { kind: 'restored'; status: 'paying' | 'confirmed' }
  | { kind: 'no_product'; sku: string }
  | { kind: 'units_gone'; sku: string; available: number }
  | HoldState;

export const restoreCartPartSpec = {
  name: 'restoreCartPart',
  codes: [Code.OK, Code.NO_PRODUCT, Code.WOULD_GO_NEGATIVE, ...statusCodes],
  decode(reply: unknown): RestoreCartPartReply {
    const r = flat('restoreCartPart', reply);
    if (r[0] === Code.OK) return { kind: 'restored', status: r[1] === 'confirmed' ? 'confirmed' : 'paying' };
    if (r[0] === Code.NO_PRODUCT) return { kind: 'no_product', sku: String(r[1]) };
    if (r[0] === Code.WOULD_GO_NEGATIVE) return { kind: 'units_gone', sku: String(r[1]), available: Number(r[2]) };
    return holdStateOf('restoreCartPart', r, restoreCartPartSpec.codes);
  },
} satisfies ScriptSpec;

/** One part of a lost multi-partition cart: its partition, its lines, and where its home is. */
export interface LostCartPart {
  reservationId: string;
  userId: string;
  partition: number;
  lines: Line[];
  /** The home partition, or null on the home part. */
  home: number | null;
  /** On the home part: every partition of the cart, home first. */
  parts: number[];
}

export async function restoreCartPart(ctx: EngineContext, part: LostCartPart): Promise<RestoreCartPartReply> {
  const k = ctx.keys.partition(part.partition);
  const lineArgs = part.lines.flatMap((l) => [l.sku, l.qty, l.priceCents]);
  return restoreCartPartSpec.decode(await ctx.scripts.restoreCartPart(k.skus, k.holds, k.paying, k.meta,
    part.reservationId, part.userId, part.home === null ? '' : String(part.home), part.home === null ? part.parts.join(',') : '',
    part.lines.length, ...lineArgs));
}
