import type { Rejection } from '../redis/codes.ts';
import type { EngineContext } from '../redis/context.ts';
import { StockadeError } from '../../common/errors.ts';
import { newOrderId, partitionOfId } from './ids.ts';
import { decodeRecord, type HoldRecord } from '../redis/records.ts';
import { activateCart } from '../redis/scripts/activateCart.ts';
import { beginPayment } from '../redis/scripts/beginPayment.ts';
import { commitHold } from '../redis/scripts/commitHold.ts';
import { dueIds } from '../redis/scripts/dueIds.ts';
import { readHold } from '../redis/scripts/readHold.ts';
import { recordRefund, type RefundNote } from '../redis/scripts/recordRefund.ts';
import { releaseHold, type ReleaseHoldMode, type ReleaseHoldReply } from '../redis/scripts/releaseHold.ts';
import type { BeginPaymentOutcome, CommitOutcome, PaymentRecord, ReleaseMode, ReleaseOutcome, Reservation } from '../types.ts';

/** A hold or pending cart whose deadline has passed is expired, whether or not a sweep has marked it yet. */
function effectiveStatus(record: HoldRecord, nowMs: number): HoldRecord['status'] {
  const live = record.status === 'held' || record.status === 'pending';
  return live && nowMs >= record.expiresAtMs ? 'expired' : record.status;
}

/**
 * A reservation's life after it is made (holds/make.ts makes it): look-up,
 * payment start, commit, release, and the cart steps (activate, abort,
 * abandon). A multi-partition cart acts on its home part first (the id names
 * it): the home part decides, and the script replies name the other parts.
 */
export class Holds {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * The record and, for a live or finished hold, the reservation it describes
   * (null for a rejection, an aborted cart, or a cart with a part missing). The
   * reservation's status is as of the scripts' clock: a hold past its deadline
   * reads `expired` before any sweep has run. A fenced partition refuses the
   * read (FENCED) unless `fenced` is 'read' (the reconciler's look at a Redis
   * that went back in time).
   */
  async find(id: string, fenced: 'refuse' | 'read' = 'refuse'): Promise<{ record: HoldRecord; reservation: Reservation | null } | null> {
    const home = this.homeOf(id);
    if (home < 0) return null;
    const [, { nowMs, record }] = await Promise.all([fenced === 'refuse' ? this.ctx.fencing.assertReadable(home) : null,
      readHold(this.ctx, home, id)]);
    if (!record || record.home !== '') return null;
    if (record.status === 'rejected' || record.status === 'aborted') return { record, reservation: null };
    const others = await Promise.all(record.parts.filter((p) => p !== home).map((p) => this.recordAt(p, id)));
    if (others.some((part) => part === null)) return { record, reservation: null };
    const items = [...record.lines, ...others.flatMap((part) => part!.lines)];
    const totalCents = items.reduce((sum, l) => sum + l.qty * l.priceCents, 0);
    const reservation: Reservation = { id, status: effectiveStatus(record, nowMs), userId: record.userId, items, totalCents,
      expiresAtMs: record.expiresAtMs, orderId: record.orderId };
    return { record, reservation };
  }

  /**
   * A reservation as a client may see it: never a pending cart, a rejection or
   * an aborted cart; with `owner`, only when it is that user's.
   */
  async get(id: string, owner?: string, fenced: 'refuse' | 'read' = 'refuse'): Promise<Reservation | null> {
    const found = await this.find(id, fenced);
    const visible = found?.reservation && found.record.status !== 'pending' ? found.reservation : null;
    return visible && (owner === undefined || visible.userId === owner) ? visible : null;
  }

  /**
   * Whether the reservation with this id was made for this user (by its home
   * part's record: a reservation's user never changes). False for no such
   * reservation: an id is no handle unless its owner's user id comes with it.
   */
  async isOwnedBy(id: string, owner: string): Promise<boolean> {
    const home = this.homeOf(id);
    if (home < 0) return false;
    const record = await this.recordAt(home, id);
    return record !== null && record.home === '' && record.userId === owner;
  }

  /** The status of each id's record in one partition (null: none), fenced or not: the reconciler's read. */
  async statusesAt(partition: number, ids: string[]): Promise<(HoldRecord['status'] | null)[]> {
    if (ids.length === 0) return [];
    const raws = await this.ctx.redis.hmget(this.ctx.keys.partition(partition).holds, ...ids);
    return raws.map((raw) => (raw ? decodeRecord(raw).status : null));
  }

  async recordAt(partition: number, id: string): Promise<HoldRecord | null> {
    const raw = await this.ctx.redis.hget(this.ctx.keys.partition(partition).holds, id);
    return raw ? decodeRecord(raw) : null;
  }

  /**
   * held -> paying, home part first. A part that another confirm has already
   * committed means the cart is confirmed; any other part that cannot pay
   * (expired, released) makes the cart unpayable: it is released, and the
   * answer is the home part's real state (released, with why, or confirmed).
   */
  async beginPayment(id: string): Promise<BeginPaymentOutcome> {
    const home = this.homeOf(id);
    if (home < 0) return { kind: 'not_found' };
    const first = await beginPayment(this.ctx, home, id);
    if (first.kind !== 'paying') return first;
    let totalCents = first.totalCents;
    const items = [...first.record.lines];
    for (const p of first.parts) {
      if (p === home) continue;
      const reply = await beginPayment(this.ctx, p, id);
      if (reply.kind === 'paying') {
        totalCents += reply.totalCents;
        items.push(...reply.record.lines);
        continue;
      }
      if (reply.kind === 'confirmed' || reply.kind === 'payment_overdue') return reply;
      return this.release(id, 'compensate');
    }
    // Its lines as find() orders them (home part first, then the parts in the home's order), from the records the
    // scripts answered: a confirm needs no read of the hold after beginning its payment (one round trip less, issue #14).
    const reservation: Reservation = { id, status: 'paying', userId: first.record.userId, items, totalCents,
      expiresAtMs: first.record.expiresAtMs, orderId: first.record.orderId };
    return { kind: 'paying', deadlineMs: first.deadlineMs, totalCents, reservation };
  }

  /**
   * Commits the home part first: it decides (a release, too, acts on the home
   * part first, so the two cannot both win). Then the other parts roll forward;
   * once home is confirmed each of them is paying or confirmed, so each commits.
   * The order id is random, proposed by each attempt; the home part keeps the
   * first one that commits and answers it to every repeat (a resend after a lost
   * reply, a racing confirm, the recovery), and the other parts commit under the
   * home's answer, never under this attempt's proposal: one reservation, one
   * order id.
   */
  async commit(id: string, payment: PaymentRecord): Promise<CommitOutcome> {
    const home = this.homeOf(id);
    if (home < 0) return { kind: 'not_found' };
    const reply = await commitHold(this.ctx, home, id, payment.orderId ?? newOrderId(), payment);
    if (reply.kind !== 'committed') return reply;
    for (const p of reply.parts) {
      if (p === home) continue;
      const part = await commitHold(this.ctx, p, id, reply.orderId, payment);
      if (part.kind !== 'committed') throw new StockadeError('ASSERTION', `part ${p} of confirmed cart ${id} replied ${part.kind}`);
      if (part.orderId !== reply.orderId) {
        throw new StockadeError('ASSERTION', `part ${p} of confirmed cart ${id} is order ${part.orderId}, its home order ${reply.orderId}`);
      }
    }
    return { kind: 'confirmed', orderId: reply.orderId };
  }

  /**
   * Commits one part of a cart whose home part is confirmed under `orderId`
   * (the reconciler completing an order PostgreSQL has without this part).
   */
  async commitPart(partition: number, id: string, orderId: string, payment: PaymentRecord): Promise<CommitOutcome> {
    const reply = await commitHold(this.ctx, partition, id, orderId, payment);
    return reply.kind === 'committed' ? { kind: 'confirmed', orderId: reply.orderId } : reply;
  }

  /** Gives back every part of a hold, home part first; with `owner`, only that user's hold (else not found, nothing changed). */
  async release(id: string, mode: ReleaseMode = 'client', owner?: string): Promise<ReleaseOutcome> {
    const home = this.homeOf(id);
    if (home < 0) return { kind: 'not_found' };
    if (owner !== undefined && !(await this.isOwnedBy(id, owner))) return { kind: 'not_found' };
    const reply = await this.releasePart(home, id, mode);
    if (reply.kind !== 'given_back') return reply;
    for (const p of reply.parts) {
      if (p !== home) await this.releasePart(p, id, mode);
    }
    return { kind: 'released' };
  }

  /** Gives back the given parts of a cart (note 'compensated'): the reconciler's, when it could not restore every part of a lost one. */
  async compensateParts(id: string, partitions: number[]): Promise<void> {
    for (const p of partitions) await this.releasePart(p, id, 'compensate');
  }

  private releasePart(partition: number, id: string, mode: ReleaseHoldMode, note: Rejection | null = null): Promise<ReleaseHoldReply> {
    return releaseHold(this.ctx, partition, id, mode, note);
  }

  /** pending -> held once every part holds its lines; false when the cart expired (or was given back) meanwhile. */
  async activateCart(id: string, home: number): Promise<boolean> {
    return (await activateCart(this.ctx, home, id)).kind === 'held';
  }

  /** Gives back every part of a cart that was refused, recording why for replays (home part first: it decides). */
  async abortCart(id: string, partitions: number[], why: Rejection): Promise<void> {
    const [home, ...others] = partitions;
    await this.releasePart(home!, id, 'abort', why);
    await Promise.all(others.map((p) => this.releasePart(p, id, 'abort', why)));
  }

  /**
   * Gives back a request that failed before its caller got an answer, unless it
   * became a reservation that a retry with its Idempotency-Key may find (an
   * activated cart, a single hold): `keyed` false gives back those too, since
   * no one can ever ask for them. Parts never reserved are left a tombstone, so
   * a late resend of their reserve holds nothing. A cart whose home part
   * expired or was refused has its other parts given back too. True when this
   * request is given back now or was before and was never a reservation nor a
   * refusal (its key may then be used afresh).
   */
  async abandon(id: string, partitions: number[], keyed: boolean): Promise<boolean> {
    const [home, ...others] = partitions;
    const reply = await this.releasePart(home!, id, keyed ? 'abandon' : 'abandon-any');
    // Once the home part holds nothing, no other part may: the home decides.
    if (reply.kind === 'given_back' || reply.kind === 'expired') await Promise.all(others.map((p) => this.releasePart(p, id, 'abandon')));
    return reply.kind === 'given_back' && !reply.refused;
  }

  /** Notes a refund of a capture that landed on this released hold, and appends it to the outbox for PostgreSQL. */
  async recordRefund(id: string, refund: RefundNote): Promise<void> {
    const home = this.homeOf(id);
    if (home < 0) throw new StockadeError('ASSERTION', `${id} is no reservation id`);
    const reply = await recordRefund(this.ctx, home, id, refund);
    if (reply.kind !== 'recorded') throw new StockadeError('ASSERTION', `refund of ${id}, which is not released, answered ${reply.kind}`);
  }

  /** Holds of a partition still paying past their payment deadline, oldest first (at most countMax). */
  overduePayments(partition: number, countMax: number): Promise<string[]> {
    return dueIds(this.ctx, partition, 'paying', countMax);
  }

  /** Holds of a partition released after a void whose look at the provider again is due, oldest first (at most countMax). */
  voidsToRecheck(partition: number, countMax: number): Promise<string[]> {
    return dueIds(this.ctx, partition, 'voided', countMax);
  }

  /** Done with a voided hold's look at the provider. */
  async voidRechecked(id: string): Promise<void> {
    const home = this.homeOf(id);
    if (home >= 0) await this.ctx.redis.zrem(this.ctx.keys.partition(home).voided, id);
  }

  private homeOf(id: string): number {
    return partitionOfId(id, this.ctx.settings.partitions);
  }
}
