import { Code, rejectionOf, type Rejection } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import type { ReserveItem } from '../../types.ts';
import { fencedOf, type FencedReply } from './fence.ts';
import { flat, unknownReply, type Flat, type ScriptSpec } from './reply.ts';

/** One request's part in a reserveHolds call. */
export interface HoldRequest {
  id: string;
  userId: string;
  ttlMs: number;
  /** 'h' a hold; 'p' the home part of a multi-partition cart (pending); 'c' another part of such a cart. */
  mode: 'h' | 'p' | 'c';
  /** 'p': the cart's partitions, comma separated; 'c': the home partition; else ''. */
  parts: string;
  /** Record a refusal under the id, so that a replay of the request sees it again. */
  keep: boolean;
  items: ReserveItem[];
}

export type HeldReply = { kind: 'held'; expiresAtMs: number; pricesCents: number[] };

/** One request's outcome in a reserveHolds call. */
export type HoldReply =
  | HeldReply
  /** The id exists already (or came earlier in this batch): its hold, or its recorded refusal. */
  | { kind: 'exists'; first: { kind: 'held'; expiresAtMs: number } | Rejection }
  | Rejection
  /** Short now, but more due holds of the sku remain than one call may expire: send again (nothing recorded). */
  | { kind: 'reclaim_more'; sku: string; available: number }
  /** The outbox holds more entries than outboxLengthMax: nothing reserved. */
  | { kind: 'backlog'; entries: number };

export const reserveHoldsSpec = {
  name: 'reserveHolds',
  codes: [Code.OK, Code.DUPLICATE, Code.OUT_OF_STOCK, Code.PER_USER_LIMIT, Code.NO_PRODUCT, Code.BACKLOG, Code.RECLAIM_MORE, Code.FENCED],
  /** The flat reply (a count, then that many values, per request) as one outcome per request. */
  /** (A fenced partition's refusal is each request's: the guard throws FENCED.) */
  decode(reply: unknown): (HoldReply | FencedReply)[] {
    const values = flat('reserveHolds', reply);
    const out: (HoldReply | FencedReply)[] = [];
    for (let at = 0; at < values.length; ) {
      const n = Number(values[at]);
      out.push(decodeOne(values.slice(at + 1, at + 1 + n), reply));
      at += 1 + n;
    }
    return out;
  },
} satisfies ScriptSpec;

function decodeOne(r: Flat, whole: unknown): HoldReply | FencedReply {
  const [code, a, b] = r;
  if (code === Code.OK) return { kind: 'held', expiresAtMs: Number(a), pricesCents: r.slice(2).map(Number) };
  if (code === Code.DUPLICATE) {
    const first = a === Code.OK ? { kind: 'held' as const, expiresAtMs: Number(b) } : rejectionOf(Number(a), b, r[3]);
    return first ? { kind: 'exists', first } : unknownReply('reserveHolds', whole);
  }
  if (code === Code.RECLAIM_MORE) return { kind: 'reclaim_more', sku: String(a), available: Number(b) };
  if (code === Code.BACKLOG) return { kind: 'backlog', entries: Number(a) };
  if (code === Code.FENCED) return fencedOf(r)!;
  return rejectionOf(Number(code), a, b) ?? unknownReply('reserveHolds', whole);
}

/** One group-commit batch of a partition's hold requests, in arrival order: one outcome per request. */
export async function reserveHolds(ctx: EngineContext, partition: number, reqs: HoldRequest[]): Promise<HoldReply[]> {
  const k = ctx.keys.partition(partition);
  const { reclaimWorkMax, reclaimSkuWorkMax, outboxLengthMax } = ctx.settings;
  const args: (string | number)[] = [k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
    reclaimWorkMax, reclaimSkuWorkMax, ctx.recordRetentionMs, reqs.length, outboxLengthMax];
  for (const r of reqs) {
    args.push(r.id, r.userId, r.ttlMs, r.mode + (r.keep ? '1' : '0'), r.parts, r.items.length);
    for (const item of r.items) args.push(item.sku, item.qty);
  }
  const replies = await ctx.fencing.guard(partition, async () => {
    const decoded = reserveHoldsSpec.decode(await ctx.scripts.reserveHolds(...args));
    return decoded[0]?.kind === 'fenced' ? decoded[0] : decoded as HoldReply[];
  });
  if (replies.length !== reqs.length) unknownReply('reserveHolds', replies);
  return replies;
}
