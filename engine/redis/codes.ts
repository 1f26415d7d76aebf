import { unknownReply, type Flat } from './scripts/reply.ts';

/** Every code the Lua scripts return, in one table (see each script's header). */
export const Code = {
  OK: 1,
  DUPLICATE: 2,
  OUT_OF_STOCK: -1,
  PER_USER_LIMIT: -2,
  NO_PRODUCT: -3,
  KEY_REUSED: -4,
  BACKLOG: -5,
  RECLAIM_MORE: -6,
  NOT_FOUND: -10,
  EXPIRED: -11,
  RELEASED: -12,
  CONFIRMED: -13,
  PENDING: -14,
  PAYING: -15,
  HELD: -16,
  OVERDUE: -17,
  EXISTS: -20,
  WOULD_GO_NEGATIVE: -21,
  /** The counts changed since the caller read them (resetCounts). */
  CHANGED: -22,
  /** The partition is fenced (lua/includes/fence.lua): the reply's next value says why. */
  FENCED: -30,
  /** The partition is not fenced, and the step is only for a fenced one (confirmRecord). */
  NOT_FENCED: -31,
} as const;

export type CodeValue = (typeof Code)[keyof typeof Code];

/** Why a reservation request was refused: a business outcome, not an error. */
export type Rejection =
  | { kind: 'out_of_stock'; sku: string; available: number }
  | { kind: 'per_user_limit'; sku: string; limit: number }
  | { kind: 'not_found'; sku: string };

/** Maps a reserve rejection reply {code, a, b} to its outcome; null for other codes. */
export function rejectionOf(code: number, a: unknown, b: unknown): Rejection | null {
  if (code === Code.OUT_OF_STOCK) return { kind: 'out_of_stock', sku: String(a), available: Number(b) };
  if (code === Code.PER_USER_LIMIT) return { kind: 'per_user_limit', sku: String(a), limit: Number(b) };
  if (code === Code.NO_PRODUCT) return { kind: 'not_found', sku: String(a) };
  return null;
}

/** The reply triple a rejection is recorded as (the inverse of rejectionOf). */
export function rejectionNote(r: Rejection): [number, string, number] {
  if (r.kind === 'out_of_stock') return [Code.OUT_OF_STOCK, r.sku, r.available];
  if (r.kind === 'per_user_limit') return [Code.PER_USER_LIMIT, r.sku, r.limit];
  return [Code.NO_PRODUCT, r.sku, 0];
}

/** A hold that is in no state for the step asked of it. */
export type HoldState =
  | { kind: 'not_found' }
  | { kind: 'expired' }
  | { kind: 'released' }
  | { kind: 'confirmed'; orderId: string }
  | { kind: 'in_progress' }
  | { kind: 'payment_in_progress' }
  | { kind: 'payment_not_begun' }
  /** Paying, past its payment deadline: no charge may begin; the overdue recovery settles it. */
  | { kind: 'payment_overdue' };

/** The code of each hold state a script may answer instead of doing its step. */
export const holdStateCodes = {
  not_found: Code.NOT_FOUND,
  expired: Code.EXPIRED,
  released: Code.RELEASED,
  confirmed: Code.CONFIRMED,
  in_progress: Code.PENDING,
  payment_in_progress: Code.PAYING,
  payment_not_begun: Code.HELD,
  payment_overdue: Code.OVERDUE,
} as const satisfies Record<HoldState['kind'], number>;

/** The codes lua/includes/status.lua's statusReply answers (every hold state but overdue). */
export const statusCodes: readonly number[] = [Code.NOT_FOUND, Code.EXPIRED, Code.RELEASED, Code.CONFIRMED, Code.PENDING,
  Code.PAYING, Code.HELD];

/** A hold-state reply [code, a] as its outcome; UNKNOWN_REPLY for a code that is not among the script's `codes`. */
export function holdStateOf(script: string, reply: Flat, codes: readonly number[]): HoldState {
  const [code, a] = reply;
  if (!codes.includes(Number(code))) return unknownReply(script, reply);
  switch (code) {
    case Code.NOT_FOUND: return { kind: 'not_found' };
    case Code.EXPIRED: return { kind: 'expired' };
    case Code.RELEASED: return { kind: 'released' };
    case Code.CONFIRMED: return { kind: 'confirmed', orderId: String(a) };
    case Code.PENDING: return { kind: 'in_progress' };
    case Code.PAYING: return { kind: 'payment_in_progress' };
    case Code.HELD: return { kind: 'payment_not_begun' };
    case Code.OVERDUE: return { kind: 'payment_overdue' };
    default: return unknownReply(script, reply);
  }
}
