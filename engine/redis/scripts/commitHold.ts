import { Code, holdStateOf, statusCodes, type HoldState } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { partitionList } from '../records.ts';
import type { PaymentRecord } from '../../types.ts';
import { fencedOf, type FencedReply } from './fence.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** paying -> confirmed (now or before: 'committed'), with the order id and a cart home's parts; or the state that refuses it. */
export type CommitHoldReply = { kind: 'committed'; orderId: string; parts: number[] } | HoldState;

export const commitHoldSpec = {
  name: 'commitHold',
  codes: [Code.OK, ...statusCodes, Code.FENCED],
  decode(reply: unknown): CommitHoldReply | FencedReply {
    const r = flat('commitHold', reply);
    if (r[0] === Code.FENCED) return fencedOf(r)!;
    if (r[0] !== Code.OK) return holdStateOf('commitHold', r, commitHoldSpec.codes);
    return { kind: 'committed', orderId: String(r[1]), parts: partitionList(r[2]) };
  },
} satisfies ScriptSpec;

export async function commitHold(ctx: EngineContext, partition: number, id: string, orderId: string,
  payment: PaymentRecord): Promise<CommitHoldReply> {
  const k = ctx.keys.partition(partition);
  return ctx.fencing.guard(partition, async () => commitHoldSpec.decode(await ctx.scripts.commitHold(k.skus, k.holds,
    k.paying, k.gc, k.outbox, k.meta, id, orderId, payment.amountCents, payment.reference, ctx.recordRetentionMs)));
}
