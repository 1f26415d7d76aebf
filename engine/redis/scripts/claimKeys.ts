import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { flat, unknownReply, type ScriptSpec } from './reply.ts';

export interface KeyClaim {
  key: string;
  fingerprint: string;
  id: string;
}

/** 'new': claimed for the id asked; 'replay': claimed before for `id` with the same fingerprint; 'reused': another body. */
export type ClaimReply = { kind: 'new' | 'replay'; id: string } | { kind: 'reused' };

export const claimKeysSpec = {
  name: 'claimKeys',
  codes: [Code.OK, Code.DUPLICATE, Code.KEY_REUSED],
  decode(reply: unknown): ClaimReply[] {
    const r = flat('claimKeys', reply);
    const out: ClaimReply[] = [];
    for (let i = 0; i < r.length; i += 2) {
      const [code, id] = [r[i], String(r[i + 1])];
      if (code === Code.OK) out.push({ kind: 'new', id });
      else if (code === Code.DUPLICATE) out.push({ kind: 'replay', id });
      else if (code === Code.KEY_REUSED) out.push({ kind: 'reused' });
      else unknownReply('claimKeys', reply);
    }
    return out;
  },
} satisfies ScriptSpec;

export async function claimKeys(ctx: EngineContext, shard: number, claims: KeyClaim[]): Promise<ClaimReply[]> {
  const k = ctx.keys.shard(shard);
  const args: (string | number)[] = [k.claims, k.gc, k.meta, ctx.settings.idempotencyRetentionMs, claims.length];
  for (const c of claims) args.push(c.key, c.fingerprint, c.id);
  const replies = claimKeysSpec.decode(await ctx.scripts.claimKeys(...args));
  if (replies.length !== claims.length) unknownReply('claimKeys', replies);
  return replies;
}
