import { Code, holdStateOf, statusCodes, type HoldState } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { decodeRecord, partitionList, type HoldRecord } from '../records.ts';
import { fencedOf, type FencedReply } from './fence.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** held -> paying: its payment deadline, what it costs, a cart home's parts and the part's record; or the state that refuses it. */
export type BeginPaymentReply = { kind: 'paying'; deadlineMs: number; totalCents: number; parts: number[]; record: HoldRecord } | HoldState;

export const beginPaymentSpec = {
  name: 'beginPayment',
  codes: [Code.OK, ...statusCodes, Code.OVERDUE, Code.FENCED],
  decode(reply: unknown): BeginPaymentReply | FencedReply {
    const r = flat('beginPayment', reply);
    if (r[0] === Code.FENCED) return fencedOf(r)!;
    if (r[0] !== Code.OK) return holdStateOf('beginPayment', r, beginPaymentSpec.codes);
    return { kind: 'paying', deadlineMs: Number(r[1]), totalCents: Number(r[2]), parts: partitionList(r[3]), record: decodeRecord(r[4] as string) };
  },
} satisfies ScriptSpec;

export async function beginPayment(ctx: EngineContext, partition: number, id: string): Promise<BeginPaymentReply> {
  const k = ctx.keys.partition(partition);
  return ctx.fencing.guard(partition, async () => beginPaymentSpec.decode(await ctx.scripts.beginPayment(k.skus, k.holds,
    k.paying, k.users, k.gc, k.meta, id, ctx.settings.paymentWindowMs, ctx.recordRetentionMs)));
}
