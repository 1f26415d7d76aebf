import type { Engine } from './engine.ts';
import { StockadeError } from './errors.ts';
import type { PaymentProvider } from './payments.ts';
import type { HoldState, Reservation } from './types.ts';

export type ConfirmOutcome =
  | { kind: 'confirmed'; reservation: Reservation; orderId: string; amountCents: number }
  | { kind: 'declined'; reason: string }
  /** The provider did not answer in time: the hold stays `paying` until its outcome is known. */
  | { kind: 'payment_pending'; deadlineMs: number }
  | Exclude<HoldState, { kind: 'confirmed' }>;

const commitAttempts = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    const charge = await this.provider.charge(
      { reservationId: id, amountCents: begun.totalCents, token, lines: reservation.items }, this.paymentTimeoutMs);
    if (charge.status === 'timeout') return { kind: 'payment_pending', deadlineMs: begun.deadlineMs };
    if (charge.status === 'declined') {
      await this.engine.release(id, 'declined');
      return { kind: 'declined', reason: charge.reason };
    }
    return this.commit(id, charge.amountCents, charge.reference);
  }

  /** After the pivot: commit until Redis answers (each attempt is idempotent). */
  private async commit(id: string, amountCents: number, reference: string): Promise<ConfirmOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        const committed = await this.engine.commit(id, { amountCents, reference });
        if (committed.kind !== 'confirmed') return committed;
        return this.confirmed(id, committed.orderId);
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

  /** A hold released because its payment was declined answers "declined" again. */
  private async releasedOutcome(id: string): Promise<ConfirmOutcome> {
    const found = await this.engine.reservations.find(id);
    return found?.record.declined ? { kind: 'declined', reason: 'declined' } : { kind: 'released' };
  }
}
