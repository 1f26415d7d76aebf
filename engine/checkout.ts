import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from './engine.ts';
import { StockadeError } from './errors.ts';
import type { Logger } from './log.ts';
import type { ChargeRecord, ChargeResult, PaymentProvider } from './payments.ts';
import type { CommitOutcome, HoldState, Reservation } from './types.ts';

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

/** What a charge settled to, as the provider's standing record or its answer says. */
type Settled = Extract<ChargeResult, { status: 'captured' | 'declined' | 'voided' }>;

export interface CheckoutStats {
  /** Overdue payments voided at the provider before any capture. */
  voided: number;
  /** Captures found on released holds, refunded. */
  refunded: number;
}

const commitAttempts = 5;

/** The provider's answer, or `timeout` when it does not come in time (the charge may still land: recovery asks later). */
function withTimeout(charge: Promise<ChargeResult>, timeoutMs: number): Promise<ChargeResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ChargeResult>((resolve) => { timer = setTimeout(() => resolve({ status: 'timeout' }), timeoutMs + 100); });
  return Promise.race([charge, late]).finally(() => clearTimeout(timer));
}

function settledOf(record: ChargeRecord): Settled {
  if (record.status === 'captured') return { status: 'captured', reference: record.reference, amountCents: record.amountCents };
  if (record.status === 'voided') return { status: 'voided' };
  return { status: 'declined', reason: 'card_declined' };
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
 * ignored the void), it is refunded, recorded and counted. Every step is
 * idempotent, so a repeated confirm finishes an interrupted one and answers
 * the same.
 */
export class Checkout {
  readonly stats: CheckoutStats = { voided: 0, refunded: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly provider: PaymentProvider,
    private readonly paymentTimeoutMs: number,
    private readonly log?: Logger,
  ) {}

  async confirm(id: string, token: string): Promise<ConfirmOutcome> {
    const begun = await this.engine.beginPayment(id);
    if (begun.kind === 'confirmed') return this.confirmed(id, begun.orderId);
    if (begun.kind === 'released') return this.releasedOutcome(id);
    if (begun.kind === 'payment_overdue') return this.settleOverdue(id);
    if (begun.kind !== 'paying') return begun;

    const reservation = await this.engine.getReservation(id);
    if (!reservation) return { kind: 'not_found' };
    const charge = await withTimeout(this.provider.charge(
      { reservationId: id, amountCents: begun.totalCents, token, lines: reservation.items }, this.paymentTimeoutMs), this.paymentTimeoutMs);
    if (charge.status === 'timeout') return { kind: 'payment_pending', deadlineMs: begun.deadlineMs };
    return this.settle(id, charge, reservation);
  }

  /**
   * Settles a paying hold by the charge's outcome: a capture commits (or, on a
   * hold released meanwhile, is refunded); a decline or a void releases.
   */
  private async settle(id: string, charge: Settled, reservation?: Reservation): Promise<ConfirmOutcome> {
    if (charge.status === 'declined') return this.releaseFor(id, 'declined', { kind: 'declined', reason: charge.reason });
    if (charge.status === 'voided') return this.releaseFor(id, 'voided', { kind: 'voided' });
    const out = await this.commit(id, charge.amountCents, charge.reference);
    if (out.kind === 'released' || out.kind === 'expired') return this.refund(id, charge.amountCents);
    if (out.kind !== 'confirmed') return out;
    const confirmed = reservation ? { ...reservation, status: 'confirmed' as const, orderId: out.orderId } : await this.engine.getReservation(id);
    if (!confirmed) return { kind: 'not_found' };
    return { kind: 'confirmed', reservation: confirmed, orderId: out.orderId, amountCents: charge.amountCents };
  }

  /** Releases for the saga; a hold that another step settled first answers that step's outcome. */
  private async releaseFor(id: string, mode: 'declined' | 'voided', outcome: ConfirmOutcome): Promise<ConfirmOutcome> {
    const out = await this.engine.release(id, mode);
    if (out.kind === 'released') return this.releasedOutcome(id, outcome);
    if (out.kind === 'confirmed') return this.confirmed(id, out.orderId);
    return out;
  }

  /** After the pivot: commit until Redis answers (each attempt is idempotent). */
  private async commit(id: string, amountCents: number, reference: string): Promise<CommitOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.engine.commit(id, { amountCents, reference });
      } catch (error) {
        if (attempt >= commitAttempts) throw new StockadeError('REDIS_UNAVAILABLE',
          `commit of ${id} after a captured payment failed ${attempt} times; the overdue recovery finishes it`, { cause: error });
        await sleep(50 * 2 ** attempt);
      }
    }
  }

  /** A capture that no hold can honour (its hold was released first): refunded, recorded, counted. */
  private async refund(id: string, amountCents: number): Promise<ConfirmOutcome> {
    const record = await this.provider.refund(id);
    await this.engine.recordRefund(id, amountCents, `re_${record.reference}`, 'captured after the hold was released');
    this.stats.refunded += 1;
    this.log?.warn({ reservationId: id, amountCents }, 'a capture landed on a released hold (the provider ignored its void); refunded');
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
  private async settleOverdue(id: string): Promise<ConfirmOutcome> {
    const standing = await this.provider.void(id);
    if (standing.status === 'voided') this.stats.voided += 1;
    if (standing.status === 'captured' && standing.refunded) return this.releasedOutcome(id);
    return this.settle(id, settledOf(standing));
  }

  /**
   * Finishes payments nobody finished: holds still `paying` past their payment
   * deadline (a confirm that timed out, crashed, or lost its client), settled
   * as settleOverdue does. Returns what it did.
   */
  async recoverOverdue(countMax = 100): Promise<{ committed: number; released: number; refunded: number }> {
    const done = { committed: 0, released: 0, refunded: 0 };
    for (let p = 0; p < this.engine.settings.partitions; p++) {
      for (const id of await this.engine.overduePayments(p, countMax)) {
        const out = await this.settleOverdue(id);
        if (out.kind === 'confirmed') done.committed += 1;
        else if (out.kind === 'refunded') done.refunded += 1;
        else if (out.kind === 'declined' || out.kind === 'voided' || out.kind === 'released') done.released += 1;
      }
    }
    return done;
  }

  /** What a released hold answers a confirm, by why the saga released it (`fallback` when the record says nothing more). */
  private async releasedOutcome(id: string, fallback: ConfirmOutcome = { kind: 'released' }): Promise<ConfirmOutcome> {
    const found = await this.engine.reservations.find(id);
    switch (found?.record.reason) {
      case 'declined': return { kind: 'declined', reason: 'declined' };
      case 'voided': return { kind: 'voided' };
      case 'refunded': return { kind: 'refunded', amountCents: found.reservation?.totalCents ?? 0 };
      case 'compensated': return { kind: 'expired' };
      default: return fallback;
    }
  }
}
