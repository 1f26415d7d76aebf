import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from './engine.ts';
import { StockadeError } from './errors.ts';
import type { ChargeResult, PaymentProvider } from './payments.ts';
import type { CommitOutcome, HoldState, Reservation } from './types.ts';

export type ConfirmOutcome =
  | { kind: 'confirmed'; reservation: Reservation; orderId: string; amountCents: number }
  | { kind: 'declined'; reason: string }
  /** The provider did not answer in time: the hold stays `paying` until its outcome is known. */
  | { kind: 'payment_pending'; deadlineMs: number }
  | Exclude<HoldState, { kind: 'confirmed' }>;

const commitAttempts = 5;

/** The provider's answer, or `timeout` when it does not come in time (the charge may still land: recovery asks later). */
function withTimeout(charge: Promise<ChargeResult>, timeoutMs: number): Promise<ChargeResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ChargeResult>((resolve) => { timer = setTimeout(() => resolve({ status: 'timeout' }), timeoutMs + 100); });
  return Promise.race([charge, late]).finally(() => clearTimeout(timer));
}

/**
 * The checkout saga: hold -> payment (the pivot) -> commit.
 * beginPayment moves the hold to `paying` (expiry cannot race the charge); a
 * declined charge releases the hold at once; after a captured charge the saga
 * only goes forward: commit is repeated until it answers. Every step is
 * idempotent, so a repeated confirm finishes an interrupted one and answers
 * the same.
 */
export class Checkout {
  constructor(
    private readonly engine: Engine,
    private readonly provider: PaymentProvider,
    private readonly paymentTimeoutMs: number,
  ) {}

  async confirm(id: string, token: string): Promise<ConfirmOutcome> {
    const begun = await this.engine.beginPayment(id);
    if (begun.kind === 'confirmed') return this.confirmed(id, begun.orderId);
    if (begun.kind === 'released') return this.releasedOutcome(id);
    if (begun.kind !== 'paying') return begun;

    const reservation = await this.engine.getReservation(id);
    if (!reservation) return { kind: 'not_found' };
    const charge = await withTimeout(this.provider.charge(
      { reservationId: id, amountCents: begun.totalCents, token, lines: reservation.items }, this.paymentTimeoutMs), this.paymentTimeoutMs);
    if (charge.status === 'timeout') return { kind: 'payment_pending', deadlineMs: begun.deadlineMs };
    if (charge.status === 'declined') {
      await this.engine.release(id, 'declined');
      return { kind: 'declined', reason: charge.reason };
    }
    const out = await this.commit(id, charge.amountCents, charge.reference);
    if (out.kind !== 'confirmed') return out;
    return { kind: 'confirmed', reservation: { ...reservation, status: 'confirmed', orderId: out.orderId }, orderId: out.orderId,
      amountCents: charge.amountCents };
  }

  /** After the pivot: commit until Redis answers (each attempt is idempotent). */
  private async commit(id: string, amountCents: number, reference: string): Promise<CommitOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.engine.commit(id, { amountCents, reference });
      } catch (error) {
        if (attempt >= commitAttempts) throw new StockadeError('REDIS_UNAVAILABLE',
          `commit of ${id} after a captured payment failed ${attempt} times; the reconciler finishes it`, { cause: error });
        await sleep(50 * 2 ** attempt);
      }
    }
  }

  private async confirmed(id: string, orderId: string): Promise<ConfirmOutcome> {
    const reservation = await this.engine.getReservation(id);
    if (!reservation) return { kind: 'not_found' };
    return { kind: 'confirmed', reservation, orderId, amountCents: reservation.totalCents };
  }

  /**
   * Finishes payments nobody finished: holds still `paying` past their payment
   * deadline (a confirm that timed out, crashed, or lost its client). The
   * provider's own record decides: captured -> commit (the saga goes forward);
   * declined -> release; no charge at all -> release. Returns what it did.
   */
  async recoverOverdue(countMax = 100): Promise<{ committed: number; released: number }> {
    const done = { committed: 0, released: 0 };
    const { keys, settings, scripts } = this.engine.ctx;
    for (let p = 0; p < settings.partitions; p++) {
      const k = keys.partition(p);
      const ids = (await scripts.overduePayments(k.paying, k.meta, countMax)) as string[];
      for (const id of ids) {
        const charge = await this.provider.lookup(id);
        if (charge?.status === 'captured') {
          const out = await this.engine.commit(id, { amountCents: charge.amountCents, reference: charge.reference });
          if (out.kind === 'confirmed') done.committed += 1;
        } else {
          const out = await this.engine.release(id, charge ? 'declined' : 'compensate');
          if (out.kind === 'released') done.released += 1;
        }
      }
    }
    return done;
  }

  /** A hold released because its payment was declined answers "declined" again. */
  private async releasedOutcome(id: string): Promise<ConfirmOutcome> {
    const found = await this.engine.reservations.find(id);
    return found?.record.declined ? { kind: 'declined', reason: 'declined' } : { kind: 'released' };
  }
}
