/**
 * Every RFC 9457 problem the API answers with, in one table: a stable `type`
 * per outcome (a relative URI, /problems/<slug>), its status and title.
 */
export const problemTypes = {
  'malformed-json': [400, 'Malformed JSON'],
  'bad-request': [400, 'Bad request'],
  'idempotency-key-required': [400, 'Idempotency-Key header required'],
  unauthorized: [401, 'Unauthorized'],
  'payment-declined': [402, 'Payment declined'],
  'payment-voided': [402, 'Payment voided'],
  'payment-refunded': [402, 'Payment refunded'],
  forbidden: [403, 'Forbidden'],
  'not-found': [404, 'Not found'],
  'method-not-allowed': [405, 'Method not allowed'],
  'product-exists': [409, 'Product exists'],
  'stock-would-go-negative': [409, 'Stock would go below zero'],
  'out-of-stock': [409, 'Out of stock'],
  'per-user-limit': [409, 'Per-user limit reached'],
  'request-in-progress': [409, 'Request in progress'],
  'reservation-released': [409, 'Reservation released'],
  'reservation-confirmed': [409, 'Reservation already confirmed'],
  'payment-in-progress': [409, 'Payment in progress'],
  'reservation-expired': [410, 'Reservation expired'],
  'body-too-large': [413, 'Body too large'],
  'unsupported-media-type': [415, 'Unsupported media type'],
  'invalid-request': [422, 'Invalid request'],
  'unknown-sku': [422, 'Unknown SKU'],
  'idempotency-key-reused': [422, 'Idempotency-Key reused with another body'],
  'rate-limited': [429, 'Too many requests'],
  internal: [500, 'Internal error'],
  unavailable: [503, 'Service unavailable'],
  overloaded: [503, 'Overloaded'],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemSlug = keyof typeof problemTypes;

export interface Reply {
  status: number;
  /** JSON-serialized, unless `raw` (then sent as it is, with `contentType`). */
  body: unknown;
  headers?: Record<string, string>;
  problem?: boolean;
  raw?: boolean;
  contentType?: string;
}

/** A problem reply; `extra` members sit beside type/title/status/detail. */
export function problem(slug: ProblemSlug, detail: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>): Reply {
  const [status, title] = problemTypes[slug];
  return { status, body: { type: `/problems/${slug}`, title, status, detail, ...extra }, headers, problem: true };
}
