import { setTimeout as sleep } from 'node:timers/promises';
import { GroupCommit } from '../batcher.ts';
import { StockadeError } from '../../common/errors.ts';
import { fingerprints, soldOutClaim, type IdempotencyClaims } from '../idempotency/claims.ts';
import { rejectionOf, type Rejection } from '../redis/codes.ts';
import type { EngineContext } from '../redis/context.ts';
import { partitionOf } from '../redis/partition.ts';
import type { Line } from '../redis/records.ts';
import { resendOnCluster } from '../redis/failover-retry.ts';
import { reserveHolds, type HeldReply, type HoldReply, type HoldRequest } from '../redis/scripts/reserveHolds.ts';
import type { Reservation, ReserveItem, ReserveOutcome, ReserveRequest, ReserveResult } from '../types.ts';
import { reserveProblem } from '../validate.ts';
import type { Holds } from './holds.ts';
import { IdMaker } from './ids.ts';
import type { SoldOutFlags } from '../catalog/sold-out.ts';

/** The fields of a hold request that every part of a cart shares. */
type HoldBase = Omit<HoldRequest, 'mode' | 'parts' | 'items'> & { replayed: boolean };

/** A request given back before it was answered (its key may be used again). */
type Abandoned = { kind: 'abandoned' };

/** What a part of a request got: held, or what stops the request. */
type PartReply = Exclude<HoldReply, { kind: 'reclaim_more' } | { kind: 'backlog' }>;

/** How many times a request is sent again while due holds of its SKU remain to expire (each call expires a bounded step). A livelock guard, not a setting: STOCKADE_RECLAIM_SKU_WORK_MAX sizes the work. */
const reclaimRoundsMax = 1_000;

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

function* skusOf(items: ReserveItem[]): Iterable<string> {
  for (const item of items) yield item.sku;
}

/** A reply saying the id holds units already (a resend, or a replay). */
const isOwnHold = (reply: PartReply) => reply.kind === 'exists' && reply.first.kind === 'held';

/**
 * Making reservations: claim the idempotency key (if any), then reserve each
 * partition of the cart through the group-commit batcher. A cart spanning
 * partitions is reserved part by part in partition order, the home part first
 * (pending until the last part holds); any rejection aborts the parts already
 * held, so the caller sees all or nothing. What happens to a hold afterwards
 * is Holds' (holds.ts).
 */
export class HoldMaker {
  private readonly ids = new IdMaker();
  readonly batches: GroupCommit<HoldRequest, HoldReply>;

  constructor(private readonly ctx: EngineContext, private readonly holds: Holds, private readonly claims: IdempotencyClaims,
    private readonly soldOut: SoldOutFlags) {
    const limits = { batchSizeMax: ctx.settings.batchSizeMax, inflightMax: ctx.settings.inflightMax };
    // On a cluster a batch failed by a failover is sent again (bounded): its ids make a resend find what a first run did.
    this.batches = new GroupCommit(resendOnCluster(ctx.redis, (p: number, reqs: HoldRequest[]) => reserveHolds(ctx, p, reqs)), limits);
  }

  /** Whether a request with this (scoped) key would be answered from its first request. */
  isReplay(req: ReserveRequest): Promise<boolean> {
    if (req.idempotencyKey === undefined) return Promise.resolve(false);
    return this.claims.isReplay(req.idempotencyKey, fingerprints.reserve(req));
  }

  /**
   * A request for a SKU this process saw sold out less than STOCKADE_SOLD_OUT_CACHE_MS ago is
   * refused without the reserve script: its key (if any) is claimed for the refusal
   * (soldOutClaim), so a replay answers the same 409; a key claimed before by a reservation
   * goes the usual way (its replay gets the first answer).
   */
  async reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    const problem = reserveProblem(req, this.ctx.settings);
    if (problem) return { kind: 'invalid', detail: problem };
    if (!this.soldOut.enabled) return this.reserveInRedis(req);
    const flagged = this.soldOut.soldOut(skusOf(req.items));
    // A partition fenced (or unchecked since a reconnect) answers 503 from its script, not 409 from a flag.
    if (flagged !== null && req.items.every((item) => this.ctx.fencing.mayAnswer(partitionOf(item.sku, this.ctx.settings.partitions)))) {
      const refused = await this.refuseSoldOut(req, flagged);
      if (refused) return refused;
    }
    const epochs = req.items.map((item) => this.soldOut.epoch(item.sku));
    const out = await this.reserveInRedis(req);
    if (out.kind === 'out_of_stock' && out.available === 0) {
      const line = req.items.findIndex((item) => item.sku === out.sku);
      if (line >= 0) {
        this.soldOut.flag(out.sku, epochs[line]!);
        this.soldOut.listen(this.ctx.redis, this.ctx.keys);
      }
    }
    return out;
  }

  /** The refusal of a request for a flagged SKU, recorded under its key; null when its key names a reservation (the usual path answers it). */
  private async refuseSoldOut(req: ReserveRequest, sku: string): Promise<ReserveOutcome | null> {
    const refusal = { kind: 'out_of_stock', sku, available: 0 } as const;
    const key = req.idempotencyKey;
    if (key === undefined) return refusal;
    // Past the memory watermark no new claim: the usual path answers (a replay, or 503).
    if (!(await this.ctx.memory.hasRoom())) return null;
    const claim = await this.claims.claim(key, fingerprints.reserve(req), soldOutClaim.idOf(sku, this.ids.next(0)));
    if (claim.kind === 'reused') return { kind: 'key_reused' };
    if (claim.kind === 'new') return refusal;
    const first = soldOutClaim.skuOf(claim.id);
    return first === null ? null : { kind: 'duplicate', of: { kind: 'out_of_stock', sku: first, available: 0 } };
  }

  private async reserveInRedis(req: ReserveRequest, attempt = 1): Promise<ReserveOutcome> {
    // Past the memory watermark no new claim and no new hold (503): the headroom is for existing holds.
    // A replay still gets its answer.
    const key = req.idempotencyKey;
    const fingerprint = key === undefined ? '' : fingerprints.reserve(req);
    if (!(await this.ctx.memory.hasRoom()) && (key === undefined || !(await this.claims.isReplay(key, fingerprint)))) {
      throw this.ctx.memory.full();
    }
    const parts = splitCart(req.items, this.ctx.settings.partitions);
    let id = this.ids.next(parts[0]!.partition);
    let replayed = false;
    if (key !== undefined) {
      const claim = await this.claims.claim(key, fingerprint, id);
      if (claim.kind === 'reused') return { kind: 'key_reused' };
      // A replay of a request refused from the sold-out flag: the same refusal.
      const refusedSku = soldOutClaim.skuOf(claim.id);
      if (refusedSku !== null) return { kind: 'duplicate', of: { kind: 'out_of_stock', sku: refusedSku, available: 0 } };
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
      else if (key !== undefined && !replayed) await this.claims.forget(key, id).catch(() => {});
      throw error;
    }
    if (result.kind === 'abandoned') {
      // The first request with this key was given back before anyone was answered: the key is free again.
      await this.claims.forget(key!, id);
      if (attempt < 2) return this.reserveInRedis(req, attempt + 1);
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
      if (key !== undefined) await this.claims.forget(key, id);
    } catch {
      // Redis is away: nothing more to do now. The key (if any) names the request.
    }
  }

  /** A hold request through the batcher; sent again while its SKU has more due holds than one call expires. */
  private async submitHold(partition: number, req: HoldRequest): Promise<PartReply> {
    for (let round = 1; ; round++) {
      const reply = await this.batches.submit(partition, req);
      if (reply.kind === 'backlog') {
        throw new StockadeError('OVERLOADED', `write-through backlog: ${reply.entries} outbox entries in partition ${partition}`);
      }
      if (reply.kind !== 'reclaim_more') return reply;
      // Not decided (nothing recorded): the client's retry decides afresh.
      if (round >= reclaimRoundsMax) throw new StockadeError('OVERLOADED', `more due holds of ${reply.sku} than ${round} calls expire`);
    }
  }

  private async reserveSingle(hold: HoldBase, part: CartPart): Promise<ReserveResult | Abandoned> {
    const reply = await this.submitHold(part.partition, { ...hold, mode: 'h', parts: '', items: part.items });
    if (reply.kind === 'held') return this.heldOf(hold.id, hold.userId, [{ items: part.items, reply }]);
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
    if (first.kind !== 'held') return this.settledOf(hold.id, first);

    const replies: HeldReply[] = [first];
    for (const part of others) {
      let reply = await this.submitHold(part.partition, { ...hold, keep: false, mode: 'c', parts: String(home.partition), items: part.items });
      if (isOwnHold(reply)) {
        // This cart's part exists: this call resent, or a run this replay finishes.
        const mine = await this.replyFromRecord(part.partition, hold.id);
        if (!mine) return this.originalOf(hold.id);
        reply = mine;
      }
      if (reply.kind !== 'held') {
        if (reply.kind === 'exists') throw new StockadeError('ASSERTION', `cart part replied ${JSON.stringify(reply)}`);
        await this.holds.abortCart(hold.id, parts.map((p) => p.partition), reply);
        return reply;
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
  private async replyFromRecord(partition: number, id: string): Promise<HeldReply | null> {
    const record = await this.holds.recordAt(partition, id);
    if (!record || (record.status !== 'held' && record.status !== 'pending')) return null;
    return { kind: 'held', expiresAtMs: record.expiresAtMs, pricesCents: record.lines.map((l) => l.priceCents) };
  }

  /** The held outcome, from the request's lines and the prices the scripts replied. */
  private heldOf(id: string, userId: string, parts: { items: ReserveItem[]; reply: HeldReply }[]) {
    const items: Line[] = [];
    let totalCents = 0;
    for (const { items: partItems, reply } of parts) {
      partItems.forEach((item, i) => {
        const priceCents = reply.pricesCents[i]!;
        items.push({ sku: item.sku, qty: item.qty, priceCents });
        totalCents += priceCents * item.qty;
      });
    }
    const expiresAtMs = parts[0]!.reply.expiresAtMs;
    const reservation: Reservation = { id, status: 'held', userId, items, totalCents, expiresAtMs, orderId: '' };
    return { kind: 'held' as const, reservation };
  }

  /** A rejection, or (when the id exists already) the outcome the first request got. */
  private async settledOf(id: string, reply: Rejection | Extract<PartReply, { kind: 'exists' }>): Promise<ReserveResult | Abandoned> {
    if (reply.kind !== 'exists') return reply;
    if (reply.first.kind !== 'held') return reply.first;
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
}
