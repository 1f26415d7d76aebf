import { Code, holdStateOf, statusCodes, type HoldState } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { flat, type ScriptSpec } from './reply.ts';

/** pending -> held (now or before); or the state that refuses it (expired: the cart came too late). */
export type ActivateCartReply = { kind: 'held'; expiresAtMs: number } | HoldState;

export const activateCartSpec = {
  name: 'activateCart',
  codes: [Code.OK, ...statusCodes],
  decode(reply: unknown): ActivateCartReply {
    const r = flat('activateCart', reply);
    if (r[0] !== Code.OK) return holdStateOf('activateCart', r, activateCartSpec.codes);
    return { kind: 'held', expiresAtMs: Number(r[1]) };
  },
} satisfies ScriptSpec;

export async function activateCart(ctx: EngineContext, home: number, id: string): Promise<ActivateCartReply> {
  const k = ctx.keys.partition(home);
  return activateCartSpec.decode(await ctx.scripts.activateCart(k.skus, k.holds, k.users, k.gc, k.meta, id, ctx.recordRetentionMs));
}
