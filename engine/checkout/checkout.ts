import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { internalsOf, type Engine } from '../engine.ts';
import { fingerprints } from '../idempotency/claims.ts';
import { crashPoint } from '../../common/crash-points.ts';
import { StockadeError } from '../../common/errors.ts';
import type { Logger } from '../log.ts';
import { settledCharge, type ChargeResult, type PaymentProvider, type SettledCharge } from './payments.ts';
import { newOrderId } from '../holds/ids.ts';
import type { CommitOutcome, HoldState, PaymentRecord, Reservation } from '../types.ts';

export type ConfirmOutcome =
  | { kind: 'confirmed'; reservation: Reservation; orderId: string; amountCents: number }
  | { kind: 'declined'; reason: string }
  /** The payment deadline passed before a charge was captured: the charge was voided, nothing taken, the hold released. */
  | { kind: 'voided' }
  /** A capture landed after the hold was released (a provider that ignored the void): it was refunded. */
  | { kind: 'refunded'; amountCents: number }
  /** The provider did not answer in time: the hold stays `paying` until its outcome is known. */
  | { kind: 'payment_pending'; deadlineMs: number }
  | Exclude<HoldState, { kind: 'confirmed' }>;

/** With an Idempotency-Key: the first outcome's answer again for a retry (`duplicate`), or the key used with another body. */
export type ConfirmReply = ConfirmOutcome | { kind: 'duplicate'; of: ConfirmOutcome } | { kind: 'key_reused' };

export interface CheckoutStats {
  /** Captures committed as orders (by a confirm, or by the recovery for a payment whose confirm did not wait). */
  captured: number;
  /** Charges declined (the hold released). */
  declined: number;
  /** Confirms answered `payment_pending`: the provider did not answer in time (the recovery settles each later). */
  pending: number;
  /** Overdue payments voided at the provider before any capture. */
  voided: number;
  /** Captures found on released holds, refunded. */
  refunded: number;
}

/**
 * Commit attempts after a captured payment (backoff 100..800 ms, 1.5 s in all) before confirm gives up. Not a
 * setting: the overdue recovery finishes any commit a confirm could not, so more attempts only keep a client waiting.
 */
const commitAttempts = 5;

/**
 * The provider's answer, or `timeout` when it does not come in time or the call
 * fails: either way the charge may still land, and the recovery settles it.
 */
function withTimeout(charge: Promise<ChargeResult>, timeoutMs: number): Promise<ChargeResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ChargeResult>((resolve) => { timer = setTimeout(() => resolve({ status: 'timeout' }), timeoutMs + 100); });
  const answered = charge.catch((): ChargeResult => ({ status: 'timeout' }));
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}

/** A provider call other than the charge: its failure is the provider being unavailable (503), never a bug (500). */
async function ask<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw new StockadeError('SERVICE_FAILED', `the payment provider failed to ${what}`, { cause: error });
  }
}

/**
 * The checkout saga: hold -> payment (the pivot) -> commit.
 * beginPayment moves the hold to `paying` (expiry cannot race the charge) until
 * its payment deadline; past it no charge begins. A declined charge releases
 * the hold at once; after a captured charge the saga only goes forward: commit
 * is repeated until it answers. A payment nobody finished is settled after its
 * deadline by voiding the charge at the provider first (the provider's first
 * record wins, so a late charge fails), then releasing: no capture can exist
 * for a hold Stockade released. Should one appear anyway (a provider that
 * ignored the void), it is refunded, recorded and counted, by the confirm that
 * sees it, a later confirm, or the recovery, which looks at every voided hold
 * again after voidRecheckMs. Every step is idempotent, so a repeated confirm
 * finishes an interrupted one and answers the same.
 */
export class Checkout {
  readonly stats: CheckoutStats = { captured: 0, declined: 0, pending: 0, voided: 0, refunded: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly provider: PaymentProvider,
    private readonly paymentTimeoutMs: number,
    private readonly log?: Logger,
  ) {}

  /**
   * Confirms a hold: begins its payment, charges, and commits (or releases).
   * With an idempotency key (scoped by the caller), the key is claimed for this
   * reservation and token first; a retry is answered as a replay (confirm is
   * idempotent by its reservation either way), another body is refused. Past
   * the memory watermark no new claim is made: the confirm goes on without one.
   * With `owner`, a hold that is not that user's is not found, before anything
   * is claimed, charged or released.
   */
  async confirm(id: string, token: string, o: { idempotencyKey?: string; owner?: string } = {}): Promise<ConfirmReply> {
    if (o.owner !== undefined && !(await internalsOf(this.engine).holds.isOwnedBy(id, o.owner))) return { kind: 'not_found' };
    let replay = false;
    if (o.idempotencyKey && (await this.engine.hasMemoryRoom())) {
      // The claim names this request (ids must be unique per request for a resend to be told apart).
      const claim = await internalsOf(this.engine).claims.claim(o.idempotencyKey, fingerprints.confirm(id, token), randomUUID());
      if (claim.kind === 'reused') return { kind: 'key_reused' };
      replay = claim.kind === 'replay';
    }
    const out = await this.pay(id, token);
    return replay ? { kind: 'duplicate', of: out } : out;
  }

  private async pay(id: string, token: string): Promise<ConfirmOutcome> {
    const begun = await this.engine.beginPayment(id);
    if (begun.kind === 'confirmed') return this.confirmed(id, begun.orderId);
    if (begun.kind === 'released') return this.releasedOutcome(id);
    if (begun.kind === 'payment_overdue') return this.settleOverdue(id);
    if (begun.kind !== 'paying') return begun;

    const { reservation } = begun;
    // The order id is proposed with the charge: the provider's first record keeps it, and every commit uses the record's.
    const charge = await withTimeout(this.provider.charge({ reservationId: id, amountCents: begun.totalCents, token, lines: reservation.items,
      userId: reservation.userId, orderId: newOrderId() }, this.paymentTimeoutMs), this.paymentTimeoutMs);
    if (charge.status === 'timeout') {
      this.stats.pending += 1;
      return { kind: 'payment_pending', deadlineMs: begun.deadlineMs };
    }
    if (charge.status === 'captured') crashPoint('after-charge');
    return this.settle(id, charge, reservation);
  }

  /**
   * Settles a paying hold by the charge's outcome: a capture commits (or, on a
   * hold released meanwhile, is refunded); a decline or a void releases.
   */
  private async settle(id: string, charge: SettledCharge, reservation?: Reservation): Promise<ConfirmOutcome> {
    if (charge.status === 'declined') {
      const out = await this.releaseFor(id, 'declined', { kind: 'declined', reason: charge.reason });
      if (out.kind === 'declined') this.stats.declined += 1;
      return out;
    }
    if (charge.status === 'voided') return this.releaseFor(id, 'voided', { kind: 'voided' });
    const out = await this.commitCaptured(id, { amountCents: charge.amountCents, reference: charge.reference, orderId: charge.orderId });
    if (out.kind === 'released' || out.kind === 'expired') return this.refund(id, charge.amountCents);
    if (out.kind !== 'confirmed') {
      // A capture that no hold in Redis answers for (Redis lost it): neither sold nor refunded blindly.
      this.log?.error({ reservationId: id, amountCents: charge.amountCents, state: out.kind },
        'a captured charge whose hold Redis does not have; left for the reconciler');
      throw new StockadeError('SERVICE_FAILED', `the captured charge of ${id} has no hold to commit (${out.kind}); the reconciler settles it`);
    }
    this.stats.captured += 1;
    crashPoint('after-commit');
    const confirmed = reservation ? { ...reservation, status: 'confirmed' as const, orderId: out.orderId } : await this.engine.getReservation(id);
    if (!confirmed) return { kind: 'not_found' };
    return { kind: 'confirmed', reservation: confirmed, orderId: out.orderId, amountCents: charge.amountCents };
  }

  /**
   * After the pivot the saga goes forward: commit, and when the hold is back to
   * `held` (Redis lost its payment start, an older AOF), begin its payment again
   * and commit.
   */
  private async commitCaptured(id: string, payment: PaymentRecord): Promise<CommitOutcome> {
    const out = await this.commit(id, payment);
    if (out.kind !== 'payment_not_begun') return out;
    await this.engine.beginPayment(id);
    return this.commit(id, payment);
  }

  /** Releases for the saga; a hold that another step settled first answers that step's outcome. */
  private async releaseFor(id: string, mode: 'declined' | 'voided', outcome: ConfirmOutcome): Promise<ConfirmOutcome> {
    const out = await this.engine.release(id, mode);
    if (out.kind === 'released') return this.releasedOutcome(id, outcome);
    if (out.kind === 'confirmed') return this.confirmed(id, out.orderId);
    return out;
  }

  /** After the pivot: commit until Redis answers (each attempt is idempotent). */
  private async commit(id: string, payment: PaymentRecord): Promise<CommitOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.engine.commit(id, payment);
      } catch (error) {
        // Fenced: the saga stays paying; the overdue recovery commits it once the fence is lifted.
        if ((error as StockadeError)?.code === 'FENCED') throw error;
        if (attempt >= commitAttempts) throw new StockadeError('REDIS_UNAVAILABLE',
          `commit of ${id} after a captured payment failed ${attempt} times; the overdue recovery finishes it`, { cause: error });
        await sleep(50 * 2 ** attempt);
      }
    }
  }

  /**
   * A capture that no hold can honour (its hold was released first): every part
   * of the hold released, the charge refunded, the refund recorded (written
   * through to PostgreSQL), logged and counted. Each step is idempotent: any
   * step that fails is done again by the next confirm or the recovery.
   */
  private async refund(id: string, amountCents: number): Promise<ConfirmOutcome> {
    await this.engine.release(id, 'voided');
    const { record, refundedNow } = await ask('refund', this.provider.refund(id));
    await this.engine.recordRefund(id, { amountCents, reference: `re_${record.reference}`, reason: 'captured after the hold was released' });
    if (refundedNow) {
      this.stats.refunded += 1;
      this.log?.warn({ reservationId: id, amountCents }, 'a capture landed on a released hold (the provider ignored its void); refunded');
    }
    return { kind: 'refunded', amountCents };
  }

  private async confirmed(id: string, orderId: string): Promise<ConfirmOutcome> {
    const reservation = await this.engine.getReservation(id);
    if (!reservation) return { kind: 'not_found' };
    return { kind: 'confirmed', reservation, orderId, amountCents: reservation.totalCents };
  }

  /**
   * A paying hold past its payment deadline: void the charge at the provider
   * (a capture that stands is answered instead), then settle by what stands.
   */
  async settleOverdue(id: string): Promise<ConfirmOutcome> {
    const standing = await ask('void', this.provider.void(id));
    if (standing.status === 'captured' && standing.refunded) return this.refund(id, standing.amountCents);
    const out = await this.settle(id, settledCharge(standing));
    if (out.kind === 'voided') this.stats.voided += 1;
    return out;
  }

  /** A voided hold, looked at again (once): a capture that a provider let through despite the void is refunded. */
  async recheckVoid(id: string): Promise<boolean> {
    const out = await this.voidedOutcome(id);
    await internalsOf(this.engine).holds.voidRechecked(id);
    return out.kind === 'refunded';
  }

  /** What a released hold answers a confirm, by why the saga released it (`fallback` when the record says nothing more). */
  private async releasedOutcome(id: string, fallback: ConfirmOutcome = { kind: 'released' }): Promise<ConfirmOutcome> {
    const found = await internalsOf(this.engine).holds.find(id);
    switch (found?.record.reason) {
      case 'declined': return { kind: 'declined', reason: 'declined' };
      case 'voided': return this.voidedOutcome(id);
      case 'refunded': return { kind: 'refunded', amountCents: found.reservation?.totalCents ?? 0 };
      case 'compensated': return { kind: 'expired' };
      default: return fallback;
    }
  }

  /** A hold released after its void: the provider says whether anything was taken (a capture let through is refunded now). */
  private async voidedOutcome(id: string): Promise<ConfirmOutcome> {
    const record = await ask('look up a charge', this.provider.lookup(id));
    return record?.status === 'captured' ? this.refund(id, record.amountCents) : { kind: 'voided' };
  }
}
