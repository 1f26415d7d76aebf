import type { EngineContext } from '../context.ts';
import { decodeRecord, type HoldRecord } from '../records.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** A hold record (null when none) and the scripts' clock when it was read. */
export interface ReadHoldReply {
  nowMs: number;
  record: HoldRecord | null;
}

export const readHoldSpec = {
  name: 'readHold',
  codes: [],
  decode(reply: unknown): ReadHoldReply {
    const [nowMs, raw] = flat('readHold', reply) as [number, string | null];
    return { nowMs: Number(nowMs), record: raw ? decodeRecord(raw) : null };
  },
} satisfies ScriptSpec;

export async function readHold(ctx: EngineContext, partition: number, id: string): Promise<ReadHoldReply> {
  const k = ctx.keys.partition(partition);
  return readHoldSpec.decode(await ctx.scripts.readHold(k.holds, k.meta, id));
}
