import type { Line } from '../redis/records.ts';

/** What a payment provider is asked to capture: the reservation is the charge's idempotency key. */
export interface ChargeRequest {
  reservationId: string;
  amountCents: number;
  token: string;
  lines: Line[];
  /** Whose order it pays for: kept in the provider's record, so an order Redis and PostgreSQL both lost can be recreated for its user. */
  userId?: string;
  /**
   * The order id this charge pays for, proposed before the charge and kept in the provider's record (as a real
   * provider keeps an order reference): the commit uses the record's, so a commit that Redis lost with its data
   * is done again under the order id the buyer was given (issue #15's fault harness found it otherwise).
   */
  orderId?: string;
}

export type ChargeResult =
  | { status: 'captured'; reference: string; amountCents: number; orderId?: string }
  | { status: 'declined'; reason: string }
  /** The reservation's charge was voided (by the overdue recovery) before this one: nothing was taken. */
  | { status: 'voided' }
  /** No answer within the timeout: the charge may or may not have happened. */
  | { status: 'timeout' };

/** The provider's own record of a reservation's charge, as it answers when asked later. */
export interface ChargeRecord {
  reservationId: string;
  /** `voided`: a void was recorded first, so no charge of this reservation can be captured. */
  status: 'captured' | 'declined' | 'voided';
  amountCents: number;
  reference: string;
  lines: Line[];
  /** The user the charge was for, when the request named one (records written before it was kept have none). */
  userId?: string;
  /** The order id the charge was for (records written before it was kept have none). */
  orderId?: string;
  /** A captured charge that was refunded in full since. */
  refunded: boolean;
}

/** What a charge settled to, as the provider's standing record says: its answer to a charge of that reservation. */
export type SettledCharge = Extract<ChargeResult, { status: 'captured' | 'declined' | 'voided' }>;

export function settledCharge(record: ChargeRecord): SettledCharge {
  if (record.status === 'captured') {
    return { status: 'captured', reference: record.reference, amountCents: record.amountCents, ...(record.orderId ? { orderId: record.orderId } : {}) };
  }
  if (record.status === 'voided') return { status: 'voided' };
  return { status: 'declined', reason: 'card_declined' };
}

/**
 * A payment provider. Like a real one it keeps its own durable record per
 * reservation, and the first record wins: charging the same reservation twice
 * captures once and answers the first outcome; a void recorded before any
 * charge makes every later charge fail as voided (a real provider's cancel of
 * an authorization); `lookup` says what became of it; `refund` gives back a
 * capture once.
 */
export interface PaymentProvider {
  charge(request: ChargeRequest, timeoutMs: number): Promise<ChargeResult>;
  lookup(reservationId: string): Promise<ChargeRecord | null>;
  /** Records a void unless a record stands; answers the record that stands (a capture found is never voided). */
  void(reservationId: string): Promise<ChargeRecord>;
  /** Refunds a captured charge in full, once; `refundedNow` is false for a repeat. */
  refund(reservationId: string): Promise<{ record: ChargeRecord; refundedNow: boolean }>;
  /**
   * The captures recorded at or after `sinceMs` (a few older ones may come too), refunded or not: what a
   * redis-server that restarted is compared with before it grants again (fencing, DESIGN.md §3), as a real
   * provider lists charges by creation time.
   */
  capturedSince(sinceMs: number): AsyncIterable<ChargeRecord>;
}
