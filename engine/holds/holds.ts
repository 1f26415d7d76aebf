import { Code, holdStateOf, rejectionNote, type Rejection } from '../redis/codes.ts';
import type { EngineContext } from '../redis/context.ts';
import { StockadeError } from '../errors.ts';
import { partitionOfId } from './ids.ts';
import { decodeRecord, partitionList, type HoldRecord } from '../redis/records.ts';
import type { BeginPaymentOutcome, CommitOutcome, PaymentRecord, ReleaseMode, ReleaseOutcome, Reservation } from '../types.ts';

type Reply = (number | string)[];

/** A hold or pending cart whose deadline has passed is expired, whether or not a sweep has marked it yet. */
function effectiveStatus(record: HoldRecord, nowMs: number): HoldRecord['status'] {
  const live = record.status === 'held' || record.status === 'pending';
  return live && nowMs >= record.expiresAtMs ? 'expired' : record.status;
}

/**
 * A reservation's life after it is made: look-up, payment start, commit, release,
 * and the cart steps (activate, abort, abandon). A multi-partition cart acts on
 * its home part first (the id names it): the home part decides, and the script
 * replies name the other parts.
 */
export class Holds {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * The record and, for a live or finished hold, the reservation it describes
   * (null for a rejection, an aborted cart, or a cart with a part missing). The
   * reservation's status is as of the scripts' clock: a hold past its deadline
   * reads `expired` before any sweep has run.
   */
  async find(id: string): Promise<{ record: HoldRecord; reservation: Reservation | null } | null> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) return null;
    const k = this.ctx.keys.partition(home);
    const [nowMs, raw] = (await this.ctx.scripts.readHold(k.holds, k.meta, id)) as [number, string | null];
    const record = raw ? decodeRecord(raw) : null;
    if (!record || record.home !== '') return null;
    if (record.status === 'rejected' || record.status === 'aborted') return { record, reservation: null };
    const others = await Promise.all(record.parts.filter((p) => p !== home).map((p) => this.recordAt(p, id)));
    if (others.some((part) => part === null)) return { record, reservation: null };
    const items = [...record.lines, ...others.flatMap((part) => part!.lines)];
    const totalCents = items.reduce((sum, l) => sum + l.qty * l.priceCents, 0);
    const reservation: Reservation = { id, status: effectiveStatus(record, Number(nowMs)), userId: record.userId, items, totalCents,
      expiresAtMs: record.expiresAtMs, orderId: record.orderId };
    return { record, reservation };
  }

  /** A reservation as a client may see it: never a pending cart, a rejection or an aborted cart. */
  async get(id: string): Promise<Reservation | null> {
    const found = await this.find(id);
    return found?.reservation && found.record.status !== 'pending' ? found.reservation : null;
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
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) return { kind: 'not_found' };
    const first = await this.beginPart(home, id);
    if (first[0] !== Code.OK) return holdStateOf(Number(first[0]), first[1]);
    let totalCents = Number(first[2]);
    for (const p of partitionList(first[3])) {
      if (p === home) continue;
      const reply = await this.beginPart(p, id);
      if (reply[0] === Code.OK) {
        totalCents += Number(reply[2]);
        continue;
      }
      if (reply[0] === Code.CONFIRMED || reply[0] === Code.OVERDUE) return holdStateOf(Number(reply[0]), reply[1]);
      return this.release(id, 'compensate');
    }
    return { kind: 'paying', deadlineMs: Number(first[1]), totalCents };
  }

  private beginPart(partition: number, id: string): Promise<Reply> {
    const k = this.ctx.keys.partition(partition);
    return this.ctx.scripts.beginPayment(k.skus, k.holds, k.paying, k.users, k.gc, k.meta,
      id, this.ctx.settings.paymentWindowMs, this.ctx.recordRetentionMs) as Promise<Reply>;
  }

  /**
   * Commits the home part first: it decides (a release, too, acts on the home
   * part first, so the two cannot both win). Then the other parts roll forward;
   * once home is confirmed each of them is paying or confirmed, so each commits.
   */
  async commit(id: string, payment: PaymentRecord): Promise<CommitOutcome> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) return { kind: 'not_found' };
    const reply = await this.commitPart(home, id, `o${id}`, payment);
    if (reply[0] !== Code.OK) return holdStateOf(Number(reply[0]), reply[1]);
    for (const p of partitionList(reply[2])) {
      if (p === home) continue;
      const part = await this.commitPart(p, id, `o${id}`, payment);
      if (part[0] !== Code.OK) throw new StockadeError('ASSERTION', `part ${p} of confirmed cart ${id} replied ${part.join(' ')}`);
    }
    return { kind: 'confirmed', orderId: String(reply[1]) };
  }

  private commitPart(partition: number, id: string, orderId: string, payment: PaymentRecord): Promise<Reply> {
    const k = this.ctx.keys.partition(partition);
    return this.ctx.scripts.commitHold(k.skus, k.holds, k.paying, k.gc, k.outbox, k.meta,
      id, orderId, payment.amountCents, payment.reference, this.ctx.recordRetentionMs) as Promise<Reply>;
  }

  async release(id: string, mode: ReleaseMode = 'client'): Promise<ReleaseOutcome> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) return { kind: 'not_found' };
    const reply = await this.releasePart(home, id, mode, null);
    if (reply[0] !== Code.OK) return holdStateOf(Number(reply[0]), reply[1]);
    for (const p of partitionList(reply[1])) {
      if (p !== home) await this.releasePart(p, id, mode, null);
    }
    return { kind: 'released' };
  }

  private releasePart(partition: number, id: string, mode: ReleaseMode | 'abort' | 'abandon' | 'abandon-any', note: Rejection | null): Promise<Reply> {
    const k = this.ctx.keys.partition(partition);
    const [code, a, b] = note ? rejectionNote(note) : [0, '', 0];
    return this.ctx.scripts.releaseHold(k.skus, k.holds, k.paying, k.users, k.gc, k.meta, k.voided,
      id, mode, code, a, b, this.ctx.recordRetentionMs, this.ctx.settings.voidRecheckMs) as Promise<Reply>;
  }

  /** pending -> held once every part holds its lines; false when the cart expired (or was given back) meanwhile. */
  async activateCart(id: string, home: number): Promise<boolean> {
    const k = this.ctx.keys.partition(home);
    const reply = (await this.ctx.scripts.activateCart(k.skus, k.holds, k.users, k.gc, k.meta, id, this.ctx.recordRetentionMs)) as Reply;
    return reply[0] === Code.OK;
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
    const [code, , refused] = await this.releasePart(home!, id, keyed ? 'abandon' : 'abandon-any', null);
    // Once the home part holds nothing, no other part may: the home decides.
    if (code === Code.OK || code === Code.EXPIRED) await Promise.all(others.map((p) => this.releasePart(p, id, 'abandon', null)));
    return code === Code.OK && refused !== 'refused';
  }

  /** Notes a refund of a capture that landed on this released hold, and appends it to the outbox for PostgreSQL. */
  async recordRefund(id: string, amountCents: number, reference: string, reason: string): Promise<void> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) throw new StockadeError('ASSERTION', `${id} is no reservation id`);
    const k = this.ctx.keys.partition(home);
    const [code] = (await this.ctx.scripts.recordRefund(k.holds, k.outbox, k.meta, id, amountCents, reference, reason)) as Reply;
    if (code !== Code.OK) throw new StockadeError('ASSERTION', `refund of ${id}, which is not released, answered ${code}`);
  }

  /** Holds of a partition still paying past their payment deadline, oldest first (at most countMax). */
  async overduePayments(partition: number, countMax: number): Promise<string[]> {
    const k = this.ctx.keys.partition(partition);
    return (await this.ctx.scripts.dueIds(k.paying, k.meta, countMax)) as string[];
  }

  /** Holds of a partition released after a void whose look at the provider again is due, oldest first (at most countMax). */
  async voidsToRecheck(partition: number, countMax: number): Promise<string[]> {
    const k = this.ctx.keys.partition(partition);
    return (await this.ctx.scripts.dueIds(k.voided, k.meta, countMax)) as string[];
  }

  /** Done with a voided hold's look at the provider. */
  async voidRechecked(id: string): Promise<void> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home >= 0) await this.ctx.redis.zrem(this.ctx.keys.partition(home).voided, id);
  }
}
