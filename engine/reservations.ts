import { Code, holdStateOf, rejectionNote, type Rejection } from './codes.ts';
import type { EngineContext } from './context.ts';
import { StockadeError } from './errors.ts';
import { partitionOfId } from './ids.ts';
import { decodeRecord, partitionList, type HoldRecord } from './records.ts';
import type { BeginPaymentOutcome, CommitOutcome, PaymentRecord, ReleaseMode, ReleaseOutcome, Reservation } from './types.ts';

type Reply = (number | string)[];


/**
 * A reservation's life after it is made: look-up, payment start, commit, release,
 * and the cart steps (activate, abort). A multi-partition cart acts on its home
 * part first (the id names it); the script replies name the other parts.
 */
export class Reservations {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * The record and, for a live or finished hold, the reservation it describes
   * (null for a rejection, an aborted cart, or a cart with a part missing).
   */
  async find(id: string): Promise<{ record: HoldRecord; reservation: Reservation | null } | null> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) return null;
    const record = await this.recordAt(home, id);
    if (!record || record.home !== '') return null;
    if (record.status === 'rejected' || record.status === 'aborted') return { record, reservation: null };
    const others = await Promise.all(record.parts.filter((p) => p !== home).map((p) => this.recordAt(p, id)));
    if (others.some((part) => part === null)) return { record, reservation: null };
    const items = [...record.lines, ...others.flatMap((part) => part!.lines)];
    const totalCents = items.reduce((sum, l) => sum + l.qty * l.priceCents, 0);
    const reservation: Reservation = { id, status: record.status, userId: record.userId, items, totalCents,
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

  async beginPayment(id: string): Promise<BeginPaymentOutcome> {
    const home = partitionOfId(id, this.ctx.settings.partitions);
    if (home < 0) return { kind: 'not_found' };
    const first = await this.beginPart(home, id);
    if (first[0] !== Code.OK) return holdStateOf(Number(first[0]), first[1]);
    let totalCents = Number(first[2]);
    for (const p of partitionList(first[3])) {
      if (p === home) continue;
      const reply = await this.beginPart(p, id);
      if (reply[0] !== Code.OK) {
        await this.release(id, 'compensate');
        return { kind: 'expired' };
      }
      totalCents += Number(reply[2]);
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

  private releasePart(partition: number, id: string, mode: ReleaseMode | 'abort', note: Rejection | null): Promise<Reply> {
    const k = this.ctx.keys.partition(partition);
    const [code, a, b] = note ? rejectionNote(note) : [0, '', 0];
    return this.ctx.scripts.releaseHold(k.skus, k.holds, k.paying, k.users, k.gc, k.meta,
      id, mode, code, a, b, this.ctx.recordRetentionMs) as Promise<Reply>;
  }

  /** pending -> held once every part holds its lines; false when the cart expired meanwhile. */
  async activateCart(id: string, home: number): Promise<boolean> {
    const k = this.ctx.keys.partition(home);
    const reply = (await this.ctx.scripts.activateCart(k.skus, k.holds, k.users, k.gc, k.meta, id, this.ctx.recordRetentionMs)) as Reply;
    return reply[0] === Code.OK;
  }

  /** Gives back every part of a cart that failed, recording why for replays (home part last). */
  async abortCart(id: string, partitions: number[], why: Rejection | null): Promise<void> {
    const [home, ...others] = partitions;
    await Promise.all(others.map((p) => this.releasePart(p, id, 'abort', why)));
    await this.releasePart(home!, id, 'abort', why);
  }
}
