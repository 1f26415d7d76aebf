import type { EngineContext } from '../context.ts';
import { flat, type ScriptSpec } from './reply.ts';

export const dueIdsSpec = {
  name: 'dueIds',
  codes: [],
  decode: (reply: unknown): string[] => flat('dueIds', reply).map(String),
} satisfies ScriptSpec;

/** The ids of a time-scored index whose time has passed by the scripts' clock, oldest first (at most countMax). */
export async function dueIds(ctx: EngineContext, partition: number, index: 'paying' | 'voided', countMax: number): Promise<string[]> {
  const k = ctx.keys.partition(partition);
  return dueIdsSpec.decode(await ctx.scripts.dueIds(k[index], k.meta, countMax));
}
