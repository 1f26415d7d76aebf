import type { Line } from './records.ts';

/** What a payment provider is asked to capture: the reservation is the charge's idempotency key. */
export interface ChargeRequest {
  reservationId: string;
  amountCents: number;
  token: string;
  lines: Line[];
}

export type ChargeResult =
  | { status: 'captured'; reference: string; amountCents: number }
  | { status: 'declined'; reason: string }
  /** No answer within the timeout: the charge may or may not have happened. */
  | { status: 'timeout' };

/** The provider's own record of a charge, as it answers when asked later. */
export interface ChargeRecord {
  reservationId: string;
  status: 'captured' | 'declined';
  amountCents: number;
  reference: string;
  lines: Line[];
}

/**
 * A payment provider. Like a real one it keeps its own durable record of each
 * charge, keyed by the reservation id: charging the same reservation twice
 * captures once and answers the first outcome; `lookup` says what became of it.
 */
export interface PaymentProvider {
  charge(request: ChargeRequest, timeoutMs: number): Promise<ChargeResult>;
  lookup(reservationId: string): Promise<ChargeRecord | null>;
}
