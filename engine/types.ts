import type { HoldState, Rejection } from './redis/codes.ts';
import type { HoldStatus, Line } from './redis/records.ts';

export type { HoldState, Rejection, HoldStatus, Line };

export interface Stock {
  total: number;
  available: number;
  reserved: number;
  sold: number;
}

export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  /** Units of this SKU one user may hold and buy; 0 means no limit. */
  perUserLimit: number;
  stock: Stock;
}

export interface ProductInput {
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
  perUserLimit?: number;
}

export interface ReserveItem {
  sku: string;
  qty: number;
}

export interface ReserveRequest {
  userId: string;
  items: ReserveItem[];
  ttlMs?: number;
  /** Already scoped by the caller (e.g. to its token). Absent: no replay protection. */
  idempotencyKey?: string;
}

export interface Reservation {
  id: string;
  status: HoldStatus;
  userId: string;
  items: Line[];
  totalCents: number;
  expiresAtMs: number;
  orderId: string;
}

export type Invalid = { kind: 'invalid'; detail: string };

export type ReserveResult =
  | { kind: 'held'; reservation: Reservation }
  | Rejection
  | { kind: 'in_progress' };

export type ReserveOutcome =
  | ReserveResult
  | { kind: 'duplicate'; of: ReserveResult }
  | { kind: 'key_reused' }
  | Invalid;

export type CreateProductOutcome = { kind: 'created'; product: Product } | { kind: 'exists' } | Invalid;

export type AdjustStockResult =
  | { kind: 'adjusted'; product: Product }
  | { kind: 'not_found' }
  | { kind: 'would_go_negative'; available: number }
  | Invalid;

/** With an Idempotency-Key: the first outcome again for a retry (`duplicate`), or the key used with another body. */
export type AdjustStockOutcome = AdjustStockResult | { kind: 'duplicate'; of: AdjustStockResult } | { kind: 'key_reused' };

/** `paying`: the reservation as its records read when its payment began (its lines and user, what the charge is for). */
export type BeginPaymentOutcome = { kind: 'paying'; deadlineMs: number; totalCents: number; reservation: Reservation } | HoldState;

export interface PaymentRecord {
  /** The order id the provider recorded with the charge: the commit proposes it (else a random one). */
  orderId?: string;
  amountCents: number;
  /** The provider's reference for the captured charge. */
  reference: string;
}

export type CommitOutcome = { kind: 'confirmed'; orderId: string } | HoldState;

/** Who releases: the client; the saga after a declined charge, after voiding an overdue one, or because a cart part expired. */
export type ReleaseMode = 'client' | 'declined' | 'voided' | 'compensate';
export type ReleaseOutcome = { kind: 'released' } | HoldState;
