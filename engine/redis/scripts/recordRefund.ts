import { Code, holdStateOf, statusCodes, type HoldState } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** The refund noted and appended to the outbox (now or before); or the state of a hold that is not released. */
export type RecordRefundReply = { kind: 'recorded' } | HoldState;

export const recordRefundSpec = {
  name: 'recordRefund',
  codes: [Code.OK, ...statusCodes],
  decode(reply: unknown): RecordRefundReply {
    const r = flat('recordRefund', reply);
    if (r[0] !== Code.OK) return holdStateOf('recordRefund', r, recordRefundSpec.codes);
    return { kind: 'recorded' };
  },
} satisfies ScriptSpec;

export interface RefundNote {
  amountCents: number;
  reference: string;
  reason: string;
}

export async function recordRefund(ctx: EngineContext, home: number, id: string, refund: RefundNote): Promise<RecordRefundReply> {
  const k = ctx.keys.partition(home);
  return recordRefundSpec.decode(await ctx.scripts.recordRefund(k.holds, k.outbox, k.meta,
    id, refund.amountCents, refund.reference, refund.reason));
}
