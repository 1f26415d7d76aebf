import { Code, holdStateOf, statusCodes, type HoldState } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { Line } from '../records.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** Restored (now or before), or why not: a line's units are gone, its sku is unknown, or a record stands in another state. */
export type RestoreOrderReply =
  | { kind: 'restored'; orderId: string }
  | { kind: 'no_product'; sku: string }
  | { kind: 'units_gone'; sku: string; available: number }
  | HoldState;

export const restoreOrderSpec = {
  name: 'restoreOrder',
  codes: [Code.OK, Code.NO_PRODUCT, Code.WOULD_GO_NEGATIVE, ...statusCodes],
  decode(reply: unknown): RestoreOrderReply {
    const r = flat('restoreOrder', reply);
    if (r[0] === Code.OK) return { kind: 'restored', orderId: String(r[1]) };
    if (r[0] === Code.NO_PRODUCT) return { kind: 'no_product', sku: String(r[1]) };
    if (r[0] === Code.WOULD_GO_NEGATIVE) return { kind: 'units_gone', sku: String(r[1]), available: Number(r[2]) };
    return holdStateOf('restoreOrder', r, restoreOrderSpec.codes);
  },
} satisfies ScriptSpec;

/** The order a lost capture paid for, as the provider recorded it: every line in one partition. */
export interface LostOrder {
  reservationId: string;
  orderId: string;
  userId: string;
  amountCents: number;
  reference: string;
  lines: Line[];
}

export async function restoreOrder(ctx: EngineContext, partition: number, o: LostOrder): Promise<RestoreOrderReply> {
  const k = ctx.keys.partition(partition);
  const lineArgs = o.lines.flatMap((l) => [l.sku, l.qty, l.priceCents]);
  return restoreOrderSpec.decode(await ctx.scripts.restoreOrder(k.skus, k.holds, k.gc, k.outbox, k.meta,
    o.reservationId, o.orderId, o.userId, o.amountCents, o.reference, ctx.recordRetentionMs, o.lines.length, ...lineArgs));
}
