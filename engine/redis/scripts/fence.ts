import { Code } from '../codes.ts';
import type { EngineContext } from '../context.ts';
import { flat, unknownReply, type Flat, type ScriptSpec } from './reply.ts';

/** A granting script's refusal of a fenced partition (lua/includes/fence.lua): 'empty', 'unchecked' or the fence's reason. */
export interface FencedReply {
  kind: 'fenced';
  reason: string;
}

/** The FENCED reply [code, reason, …] as its outcome, or null for any other code. */
export function fencedOf(r: Flat): FencedReply | null {
  return r[0] === Code.FENCED ? { kind: 'fenced', reason: String(r[1]) } : null;
}

export type CheckFenceReply =
  | { kind: 'checked'; state: 'ok' | 'initialised' | 'adopted'; seq: number }
  /** The redis-server restarted since its last check: the provider's recent captures are compared with its holds first. */
  | { kind: 'restarted'; runId: string; seq: number }
  | { kind: 'fenced'; reason: string; seq: number };

export const checkFenceSpec = {
  name: 'checkFence',
  codes: [Code.OK, Code.FENCED],
  decode(reply: unknown): CheckFenceReply {
    const r = flat('checkFence', reply);
    if (r[0] === Code.OK && r[1] === 'restarted') return { kind: 'restarted', runId: String(r[3]), seq: Number(r[2]) };
    if (r[0] === Code.OK) return { kind: 'checked', state: String(r[1]) as 'ok', seq: Number(r[2]) };
    if (r[0] === Code.FENCED) return { kind: 'fenced', reason: String(r[1]), seq: Number(r[2]) };
    return unknownReply('checkFence', reply);
  },
} satisfies ScriptSpec;

/**
 * Compares a partition with PostgreSQL's marker (lua/checkFence-2.lua). `compared`: null when this caller
 * compares no captures after a restart; else the run_id of the redis-server it compared them against ('' before).
 */
export async function checkFence(ctx: EngineContext, partition: number, markSeq: number, recordHasData: boolean,
  nowMs: number, compared: string | null): Promise<CheckFenceReply> {
  const k = ctx.keys.partition(partition);
  return checkFenceSpec.decode(await ctx.scripts.checkFence(k.meta, k.skus, markSeq, recordHasData ? '1' : '0', nowMs, compared ?? '-'));
}

export const setFenceSpec = {
  name: 'setFence',
  codes: [Code.FENCED],
  decode(reply: unknown): FencedReply {
    return fencedOf(flat('setFence', reply)) ?? unknownReply('setFence', reply);
  },
} satisfies ScriptSpec;

/** Fences a partition (the first reason stays); the reason it is fenced for. */
export async function setFence(ctx: EngineContext, partition: number, reason: string): Promise<FencedReply> {
  return setFenceSpec.decode(await ctx.scripts.setFence(ctx.keys.partition(partition).meta, reason));
}

export type LiftFenceReply = { kind: 'lifted'; seq: number } | FencedReply;

export const liftFenceSpec = {
  name: 'liftFence',
  codes: [Code.OK, Code.FENCED],
  decode(reply: unknown): LiftFenceReply {
    const r = flat('liftFence', reply);
    if (r[0] === Code.OK) return { kind: 'lifted', seq: Number(r[1]) };
    return fencedOf(r) ?? unknownReply('liftFence', reply);
  },
} satisfies ScriptSpec;

/** Clears a partition's fence and raises its seq to PostgreSQL's; `initialise` (rebuild) sets init too. */
export async function liftFence(ctx: EngineContext, partition: number, markSeq: number, initialise: boolean,
  nowMs: number): Promise<LiftFenceReply> {
  return liftFenceSpec.decode(await ctx.scripts.liftFence(ctx.keys.partition(partition).meta, markSeq, initialise ? '1' : '0', nowMs));
}
