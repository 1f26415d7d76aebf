import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { Line } from '../records.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

/** Confirmed (now or before) under the order id it has; or refused because the partition is not fenced. */
export type ConfirmRecordReply = { kind: 'confirmed'; orderId: string } | { kind: 'not_fenced' };

export const confirmRecordSpec = {
  name: 'confirmRecord',
  codes: [Code.OK, Code.NOT_FENCED],
  decode(reply: unknown): ConfirmRecordReply {
    const r = flat('confirmRecord', reply);
    if (r[0] === Code.OK) return { kind: 'confirmed', orderId: String(r[1]) };
    if (r[0] === Code.NOT_FENCED) return { kind: 'not_fenced' };
    return unknownReply('confirmRecord', reply);
  },
} satisfies ScriptSpec;

/** One part of an order PostgreSQL has, as the partition's hold record should say it (confirmRecord-4.lua). */
export interface OrderPart {
  reservationId: string;
  orderId: string;
  userId: string;
  partition: number;
  /** The home partition, or null on the home part. */
  home: number | null;
  /** On the home part of a cart: every partition of it, home first; else []. */
  parts: number[];
  lines: Line[];
}

export async function confirmRecord(ctx: EngineContext, part: OrderPart): Promise<ConfirmRecordReply> {
  const k = ctx.keys.partition(part.partition);
  const lineArgs = part.lines.flatMap((l) => [l.sku, l.qty, l.priceCents]);
  return confirmRecordSpec.decode(await ctx.scripts.confirmRecord(k.holds, k.paying, k.gc, k.meta, part.reservationId, part.orderId,
    part.userId, part.home === null ? '' : String(part.home), part.home === null && part.parts.length > 1 ? part.parts.join(',') : '',
    ctx.recordRetentionMs, part.lines.length, ...lineArgs));
}
