import { Code, holdStateOf, rejectionNote, statusCodes, type HoldState, type Rejection } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { partitionList } from '../records.ts';
import type { ReleaseMode } from '../../types.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** Every mode of lua/releaseHold-7.lua: a caller's release, and the cart steps abort and abandon. */
export type ReleaseHoldMode = ReleaseMode | 'abort' | 'abandon' | 'abandon-any';

/**
 * Released (or aborted) now or before ('given_back'), with a cart home's parts; `refused`: an
 * abandon found a cart refused before (its replay answers the refusal). Or the
 * state that refuses the release.
 */
export type ReleaseHoldReply = { kind: 'given_back'; parts: number[]; refused: boolean } | HoldState;

export const releaseHoldSpec = {
  name: 'releaseHold',
  codes: [Code.OK, ...statusCodes],
  decode(reply: unknown): ReleaseHoldReply {
    const r = flat('releaseHold', reply);
    if (r[0] !== Code.OK) return holdStateOf('releaseHold', r, releaseHoldSpec.codes);
    return { kind: 'given_back', parts: partitionList(r[1]), refused: r[2] === 'refused' };
  },
} satisfies ScriptSpec;

/** `note`: with 'abort', the refusal a replay of the cart's request is answered. */
export async function releaseHold(ctx: EngineContext, partition: number, id: string, mode: ReleaseHoldMode,
  note: Rejection | null = null): Promise<ReleaseHoldReply> {
  const k = ctx.keys.partition(partition);
  const [code, a, b] = note ? rejectionNote(note) : [0, '', 0];
  return releaseHoldSpec.decode(await ctx.scripts.releaseHold(k.skus, k.holds, k.paying, k.users, k.gc, k.meta, k.voided,
    id, mode, code, a, b, ctx.recordRetentionMs, ctx.settings.voidRecheckMs));
}
