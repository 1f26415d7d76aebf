import type { EngineContext } from '../context.ts';
import { unknownReply, type ScriptSpec } from './reply.ts';

export const purgeRecordsSpec = {
  name: 'purgeRecords',
  codes: [],
  decode(reply: unknown): number {
    if (typeof reply !== 'number') return unknownReply('purgeRecords', reply);
    return reply;
  },
} satisfies ScriptSpec;

/** Purges a bounded step of records past retention: a partition's hold records, or a key shard's claims. */
export async function purgeRecords(ctx: EngineContext, of: { partition: number } | { shard: number }): Promise<number> {
  const [records, k] = 'partition' in of
    ? [ctx.keys.partition(of.partition).holds, ctx.keys.partition(of.partition)]
    : [ctx.keys.shard(of.shard).claims, ctx.keys.shard(of.shard)];
  return purgeRecordsSpec.decode(await ctx.scripts.purgeRecords(records, k.gc, k.meta, ctx.settings.purgeGroupsMax));
}
