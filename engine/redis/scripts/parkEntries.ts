import type { EngineContext } from '../context.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export const parkEntriesSpec = {
  name: 'parkEntries',
  codes: [1, 0],
  /** True when the entry moved to the parked stream now; false when it was not in the outbox (parked before, or written). */
  decode(reply: unknown): boolean {
    const r = flat('parkEntries', reply);
    if (r[0] === 1) return true;
    if (r[0] === 0) return false;
    return unknownReply('parkEntries', reply);
  },
} satisfies ScriptSpec;

export async function parkEntries(ctx: EngineContext, partition: number, streamId: string, reason: string): Promise<boolean> {
  const k = ctx.keys.partition(partition);
  return parkEntriesSpec.decode(await ctx.scripts.parkEntries(k.outbox, k.parked, streamId, reason));
}
