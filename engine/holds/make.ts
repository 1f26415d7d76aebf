import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { GroupCommit } from './batcher.ts';
import { Code, rejectionOf, type Rejection } from '../redis/codes.ts';
import type { EngineContext } from '../redis/context.ts';
import { StockadeError } from '../errors.ts';
import { IdMaker } from './ids.ts';
import { partitionOf, shardOf } from '../redis/partition.ts';
import type { Line } from '../redis/records.ts';
import type { Holds } from './holds.ts';
import type { Reservation, ReserveItem, ReserveOutcome, ReserveRequest, ReserveResult } from '../types.ts';
import { reserveProblem } from '../validate.ts';

/** One request's part in a reserveHolds call. */
interface HoldRequest {
  id: string;
  userId: string;
  ttlMs: number;
  mode: 'h' | 'p' | 'c';
  parts: string;
  keep: boolean;
  items: ReserveItem[];
}

/** One request's part of a reserveHolds reply: [1, expiresAtMs, ...prices] | [2, code, a, b] | [code, a, b]. */
type HoldReply = (number | string)[];

/** The fields of a hold request that every part of a cart shares. */
type HoldBase = Omit<HoldRequest, 'mode' | 'parts' | 'items'> & { replayed: boolean };

/** A reply saying the id holds units already: [2, 1, expiresAtMs, 0]. */
const isOwnHold = (reply: HoldReply) => reply[0] === Code.DUPLICATE && reply[1] === Code.OK;

/** Splits a flat reply (a count, then that many values, per request) into per-request replies. */
function splitReplies(flat: (number | string)[], count: number): HoldReply[] {
  const replies: HoldReply[] = [];
  for (let at = 0; replies.length < count; ) {
    const n = Number(flat[at]);
    replies.push(flat.slice(at + 1, at + 1 + n));
    at += 1 + n;
  }
  return replies;
}

/** A request given back before it was answered (its key may be used again). */
type Abandoned = { kind: 'abandoned' };

/** How many times a request is sent again while due holds of its SKU remain to expire (each call expires a bounded step). A livelock guard, not a setting: STOCKADE_RECLAIM_SKU_WORK_MAX sizes the work. */
const reclaimRoundsMax = 1_000;

interface Claim {
  key: string;
  fingerprint: string;
  id: string;
}
type ClaimReply = [number, string?];

interface CartPart {
  partition: number;
  items: ReserveItem[];
}

/**
 * Splits a cart by partition, in ascending partition order: the lowest is the
 * home part (the id names it). Every cart takes its partitions in the same
 * order, so carts racing for the same units do not block each other into all
 * failing. A reservation lists its items part by part, in this order.
 */
function splitCart(items: ReserveItem[], partitions: number): CartPart[] {
  const byPartition = new Map<number, ReserveItem[]>();
  for (const item of items) {
    const p = partitionOf(item.sku, partitions);
    const list = byPartition.get(p);
    if (list) list.push(item);
    else byPartition.set(p, [item]);
  }
  return [...byPartition].sort((x, y) => x[0] - y[0]).map(([partition, list]) => ({ partition, items: list }));
}

export function fingerprintOf(req: ReserveRequest): string {
  const canonical = JSON.stringify([req.userId, req.items.map((i) => [i.sku, i.qty]), req.ttlMs ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 24);
}


/**
 * Reservation requests: claim the idempotency key (if any), then reserve each
 * partition of the cart through the group-commit batcher. A cart spanning
 * partitions is reserved part by part in partition order, the home part first
 * (pending until the last part holds); any rejection aborts the parts already
 * held, so the caller sees all or nothing.
 */
export class HoldMaker {
  private readonly ids = new IdMaker();
  readonly holdBatches: GroupCommit<HoldRequest, HoldReply>;
  readonly claimBatches: GroupCommit<Claim, ClaimReply>;

  constructor(private readonly ctx: EngineContext, private readonly holds: Holds) {
    const limits = { batchSizeMax: ctx.settings.batchSizeMax, inflightMax: ctx.settings.inflightMax };
    this.holdBatches = new GroupCommit((p, reqs) => this.sendHolds(p, reqs), limits);
    this.claimBatches = new GroupCommit((s, claims) => this.sendClaims(s, claims), limits);
  }

  /**
   * Claims an idempotency key (already scoped by the caller) for an id: 'new' the
   * first time, 'replay' (with the id it was claimed for) for the same
   * fingerprint again, 'reused' for another fingerprint.
   */
  async claim(key: string, fingerprint: string, id: string): Promise<{ kind: 'new' | 'replay'; id: string } | { kind: 'reused' }> {
    const [code, claimedId] = await this.claimBatches.submit(shardOf(key, this.ctx.settings.keyShards), { key, fingerprint, id });
    if (code === Code.KEY_REUSED) return { kind: 'reused' };
    return { kind: code === Code.DUPLICATE ? 'replay' : 'new', id: claimedId! };
  }

  /** Whether a request with this (scoped) key and fingerprint would be a replay. */
  async isReplay(key: string, fingerprint: string): Promise<boolean> {
    const claim = await this.ctx.redis.hget(this.ctx.keys.shard(shardOf(key, this.ctx.settings.keyShards)).claims, key);
    return claim !== null && claim.startsWith(`${fingerprint} `);
  }

  /** Frees a key whose request was given back, unless a newer request claimed it since (compare and delete, atomic). */
  private async forgetClaim(key: string, id: string): Promise<void> {
    await this.ctx.scripts.forgetClaim(this.ctx.keys.shard(shardOf(key, this.ctx.settings.keyShards)).claims, key, id);
  }

  async reserve(req: ReserveRequest, attempt = 1): Promise<ReserveOutcome> {
    const problem = reserveProblem(req, this.ctx.settings);
    if (problem) return { kind: 'invalid', detail: problem };
    // Past the memory watermark no new claim and no new hold (503): the headroom is for existing holds.
    // A replay still gets its answer.
    const key = req.idempotencyKey;
    const fingerprint = key === undefined ? '' : (req.fingerprint ?? fingerprintOf(req));
    if (!(await this.ctx.memory.hasRoom()) && (key === undefined || !(await this.isReplay(key, fingerprint)))) {
      throw this.ctx.memory.full();
    }
    const parts = splitCart(req.items, this.ctx.settings.partitions);
    let id = this.ids.next(parts[0]!.partition);
    let replayed = false;
    if (key !== undefined) {
      const claim = await this.claim(key, fingerprint, id);
      if (claim.kind === 'reused') return { kind: 'key_reused' };
      id = claim.id;
      replayed = claim.kind === 'replay';
    }
    const ttlMs = req.ttlMs ?? this.ctx.settings.holdTtlMsDefault;
    const hold: HoldBase = { id, userId: req.userId, ttlMs, keep: key !== undefined, replayed };
    let result: ReserveResult | Abandoned;
    try {
      result = parts.length === 1 ? await this.reserveSingle(hold, parts[0]!) : await this.reserveCart(hold, parts);
    } catch (error) {
      // Refused before anything was held (backlog, batcher full): the key is free again, unless a first request used it.
      const nothingHeld = parts.length === 1 && (error as StockadeError).code === 'OVERLOADED';
      if (!nothingHeld) await this.giveBack(key, id, parts.map((p) => p.partition));
      else if (key !== undefined && !replayed) await this.forgetClaim(key, id).catch(() => {});
      throw error;
    }
    if (result.kind === 'abandoned') {
      // The first request with this key was given back before anyone was answered: the key is free again.
      await this.forgetClaim(key!, id);
      if (attempt < 2) return this.reserve(req, attempt + 1);
      throw new StockadeError('SERVICE_FAILED', `the first request for ${id} failed before it was answered; retry`);
    }
    return replayed ? { kind: 'duplicate', of: result } : result;
  }

  /**
   * After an infrastructure failure (a reply lost after its script ran, Redis
   * away): gives the request's units back unless it became a reservation that a
   * retry with its key will find; once given back, the key is free again. When
   * even that fails, the key stays: the retry finds the request and finishes it.
   */
  private async giveBack(key: string | undefined, id: string, partitions: number[]): Promise<void> {
    try {
      if (!(await this.holds.abandon(id, partitions, key !== undefined))) return;
      if (key !== undefined) await this.forgetClaim(key, id);
    } catch {
      // Redis is away: nothing more to do now. The key (if any) names the request.
    }
  }

  /** A hold request through the batcher; sent again while its SKU has more due holds than one call expires. */
  private async submitHold(partition: number, req: HoldRequest): Promise<HoldReply> {
    for (let round = 1; ; round++) {
      const reply = await this.holdBatches.submit(partition, req);
      if (reply[0] !== Code.RECLAIM_MORE) return reply;
      // Not decided (nothing recorded): the client's retry decides afresh.
      if (round >= reclaimRoundsMax) throw new StockadeError('OVERLOADED', `more due holds of ${reply[1]} than ${round} calls expire`);
    }
  }

  private async reserveSingle(hold: HoldBase, part: CartPart): Promise<ReserveResult | Abandoned> {
    const reply = await this.submitHold(part.partition, { ...hold, mode: 'h', parts: '', items: part.items });
    if (reply[0] === Code.OK) return this.heldOf(hold.id, hold.userId, [{ items: part.items, reply }]);
    return this.settledOf(hold.id, reply);
  }

  /**
   * The home part first (pending), then every other part, then activation.
   * A refused part aborts the cart, recording why. A replay whose first request
   * left the cart pending waits for it (bounded), then finishes the cart itself:
   * every step is idempotent by the id, and the home part decides (activation
   * fails once the cart was given back or expired).
   */
  private async reserveCart(hold: HoldBase, parts: CartPart[]): Promise<ReserveResult | Abandoned> {
    const [home, ...others] = parts as [CartPart, ...CartPart[]];
    const partList = parts.map((p) => p.partition).join(',');
    let first = await this.submitHold(home.partition, { ...hold, mode: 'p', parts: partList, items: home.items });
    if (isOwnHold(first)) {
      if (hold.replayed) {
        const answer = await this.originalOf(hold.id, { takeOver: true });
        if (answer) return answer;
      }
      const mine = await this.replyFromRecord(home.partition, hold.id);
      if (!mine) return this.originalOf(hold.id);
      first = mine;
    }
    if (first[0] !== Code.OK) return this.settledOf(hold.id, first);

    const replies = [first];
    for (const part of others) {
      let reply = await this.submitHold(part.partition, { ...hold, keep: false, mode: 'c', parts: String(home.partition), items: part.items });
      if (isOwnHold(reply)) {
        // This cart's part exists: this call resent, or a run this replay finishes.
        const mine = await this.replyFromRecord(part.partition, hold.id);
        if (!mine) return this.originalOf(hold.id);
        reply = mine;
      }
      if (reply[0] !== Code.OK) {
        const rejection = rejectionOf(Number(reply[0]), reply[1], reply[2]);
        if (!rejection) throw new StockadeError('ASSERTION', `cart part replied ${reply.join(' ')}`);
        await this.holds.abortCart(hold.id, parts.map((p) => p.partition), rejection);
        return rejection;
      }
      replies.push(reply);
    }
    if (!(await this.holds.activateCart(hold.id, home.partition))) {
      // Expired before it was whole, or given back meanwhile: the parts go back too (the catch in reserve does it).
      throw new StockadeError('SERVICE_FAILED', `reserving cart ${hold.id} took longer than its TTL; nothing is held`);
    }
    return this.heldOf(hold.id, hold.userId, parts.map((p, i) => ({ items: p.items, reply: replies[i]! })));
  }

  /** A held reply rebuilt from the record a resent call finds (its first run made it); null when it holds nothing now. */
  private async replyFromRecord(partition: number, id: string): Promise<HoldReply | null> {
    const record = await this.holds.recordAt(partition, id);
    if (!record || (record.status !== 'held' && record.status !== 'pending')) return null;
    return [Code.OK, record.expiresAtMs, ...record.lines.map((l) => l.priceCents)];
  }

  /** The held outcome, from the request's lines and the prices the scripts replied. */
  private heldOf(id: string, userId: string, parts: { items: ReserveItem[]; reply: HoldReply }[]) {
    const items: Line[] = [];
    let totalCents = 0;
    for (const { items: partItems, reply } of parts) {
      partItems.forEach((item, i) => {
        const priceCents = Number(reply[2 + i]);
        items.push({ sku: item.sku, qty: item.qty, priceCents });
        totalCents += priceCents * item.qty;
      });
    }
    const expiresAtMs = Number(parts[0]!.reply[1]);
    const reservation: Reservation = { id, status: 'held', userId, items, totalCents, expiresAtMs, orderId: '' };
    return { kind: 'held' as const, reservation };
  }

  /** A rejection, or (when the id exists already) the outcome the first request got. */
  private async settledOf(id: string, reply: HoldReply): Promise<ReserveResult | Abandoned> {
    let [code, a, b] = reply;
    if (code === Code.DUPLICATE) [code, a, b] = reply.slice(1);
    const rejection = rejectionOf(Number(code), a, b);
    if (rejection) return rejection;
    if (code !== Code.OK) throw new StockadeError('ASSERTION', `reserveHolds replied ${reply.join(' ')}`);
    return this.originalOf(id);
  }

  /**
   * What the first request for an id was answered: its recorded refusal, or its
   * hold as it was made; `abandoned` when it was given back before it was
   * answered. A cart still being reserved is waited for (bounded); then the
   * answer is in_progress, or null with `takeOver` (the caller finishes it).
   */
  private async originalOf(id: string): Promise<ReserveResult | Abandoned>;
  private async originalOf(id: string, o: { takeOver: true }): Promise<ReserveResult | Abandoned | null>;
  private async originalOf(id: string, o: { takeOver?: boolean } = {}): Promise<ReserveResult | Abandoned | null> {
    const deadline = Date.now() + this.ctx.settings.cartReplayWaitMs;
    for (;;) {
      const found = await this.holds.find(id);
      const refusal = found?.record.note ? rejectionOf(...found.record.note) : null;
      if (refusal) return refusal;
      if (found && found.record.status !== 'pending') {
        if (!found.reservation || found.record.status === 'aborted' || found.record.unfinished) return { kind: 'abandoned' };
        return { kind: 'held', reservation: { ...found.reservation, status: 'held', orderId: '' } };
      }
      if (!found || Date.now() >= deadline) return o.takeOver && found ? null : { kind: 'in_progress' };
      await sleep(20);
    }
  }

  private async sendHolds(partition: number, reqs: HoldRequest[]): Promise<HoldReply[]> {
    const k = this.ctx.keys.partition(partition);
    const { reclaimWorkMax, reclaimSkuWorkMax, outboxLengthMax } = this.ctx.settings;
    const args: (string | number)[] = [k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
      reclaimWorkMax, reclaimSkuWorkMax, this.ctx.recordRetentionMs, reqs.length, outboxLengthMax];
    for (const r of reqs) {
      args.push(r.id, r.userId, r.ttlMs, r.mode + (r.keep ? '1' : '0'), r.parts, r.items.length);
      for (const item of r.items) args.push(item.sku, item.qty);
    }
    const flat = (await this.ctx.scripts.reserveHolds(...args)) as (number | string)[];
    if (flat[1] === Code.BACKLOG) {
      throw new StockadeError('OVERLOADED', `write-through backlog: ${flat[2]} outbox entries in partition ${partition}`);
    }
    return splitReplies(flat, reqs.length);
  }

  private async sendClaims(shard: number, claims: Claim[]): Promise<ClaimReply[]> {
    const k = this.ctx.keys.shard(shard);
    const args: (string | number)[] = [k.claims, k.gc, k.meta, this.ctx.settings.idempotencyRetentionMs, claims.length];
    for (const c of claims) args.push(c.key, c.fingerprint, c.id);
    const flat = (await this.ctx.scripts.claimKeys(...args)) as (number | string)[];
    return claims.map((_, i) => [Number(flat[2 * i]), String(flat[2 * i + 1])] as ClaimReply);
  }
}
