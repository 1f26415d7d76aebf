import { Type, type Static, type TProperties } from '@sinclair/typebox';

/** One entry of a 422 invalid-request's `errors`: where (RFC 6901 JSON pointer into the body; '' is the whole body) and what. */
export const FieldError = Type.Object({
  pointer: Type.String({ description: "RFC 6901 JSON pointer into the request body ('' is the whole body)" }),
  message: Type.String(),
}, { additionalProperties: false });
export type FieldError = Static<typeof FieldError>;

/** The response headers a problem may carry, as the document names them. */
export type ProblemHeader = 'Retry-After' | 'WWW-Authenticate' | 'Allow';

export interface ProblemType {
  status: number;
  title: string;
  /** When the API answers it, and what a client does about it: the documentation of its `type` URI. */
  about: string;
  /** Extension members beside type, title, status and detail (TypeBox; the required ones are always present). */
  members?: TProperties;
  headers?: readonly ProblemHeader[];
}

const reservationId = { reservation_id: Type.String() };
const retryLater = ['Retry-After'] as const;

/**
 * Every RFC 9457 problem the API answers with, in one table: a stable `type`
 * per outcome (a relative URI, /problems/<slug>, that resolves to this entry:
 * GET /problems/<slug>), its status, title, documentation, members and headers.
 * The README's problem table and the OpenAPI document are printed from it.
 */
export const problemTypes = {
  'malformed-json': { status: 400, title: 'Malformed JSON',
    about: 'The body is empty or not JSON. Send a JSON document.' },
  'bad-request': { status: 400, title: 'Bad request',
    about: 'A query parameter (limit, cursor), a path parameter or a header is malformed: `detail` names it. Fix the request; a cursor must be a `next_cursor` this API gave.' },
  'idempotency-key-required': { status: 400, title: 'Idempotency-Key header required',
    about: 'POST /v1/reservations needs an Idempotency-Key header (at most 255 characters). Send one, and the same one when you retry.' },
  unauthorized: { status: 401, title: 'Unauthorized', headers: ['WWW-Authenticate'],
    about: 'No bearer token (`WWW-Authenticate: Bearer`) or one that is not valid (`WWW-Authenticate: Bearer error="invalid_token"`). Send `Authorization: Bearer <token>` with a valid token.' },
  'payment-declined': { status: 402, title: 'Payment declined', members: reservationId,
    about: 'The payment provider declined the charge; the hold was released at once. Reserve again to try another payment.' },
  'payment-voided': { status: 402, title: 'Payment voided', members: reservationId,
    about: 'The payment window closed before a charge was captured: the charge was voided, nothing was taken, and the hold was released. Reserve again.' },
  'payment-refunded': { status: 402, title: 'Payment refunded', members: { ...reservationId, amount_cents: Type.Integer() },
    about: 'A charge landed after the hold had been released; it was refunded in full (`amount_cents`). Nothing was sold; reserve again.' },
  forbidden: { status: 403, title: 'Forbidden', headers: ['WWW-Authenticate'],
    about: 'The token is valid but this route needs the admin token (`WWW-Authenticate: Bearer error="insufficient_scope"`).' },
  'not-found': { status: 404, title: 'Not found',
    about: 'No such product, reservation, order, problem type or route. Orders appear once written through to PostgreSQL: retry a fresh order later.' },
  'method-not-allowed': { status: 405, title: 'Method not allowed', headers: ['Allow'],
    about: 'The path exists but not with this method; `Allow` lists the methods it takes.' },
  'product-exists': { status: 409, title: 'Product exists', members: { sku: Type.String() },
    about: 'A product with this SKU exists already. Change its stock with POST /v1/products/{sku}/stock.' },
  'stock-would-go-negative': { status: 409, title: 'Stock would go below zero', members: { sku: Type.String(), available: Type.Integer() },
    about: 'A shrink larger than the units available (`available`): held and sold units cannot be taken away.' },
  'out-of-stock': { status: 409, title: 'Out of stock', members: { sku: Type.String(), available: Type.Integer() },
    about: 'Fewer units of `sku` are available than asked for; `available` says how many are.' },
  'per-user-limit': { status: 409, title: 'Per-user limit reached', members: { sku: Type.String(), limit: Type.Integer() },
    about: 'The user would hold or own more of `sku` than its per-user limit (`limit`).' },
  'request-in-progress': { status: 409, title: 'Request in progress', headers: retryLater,
    about: 'A request with this Idempotency-Key (or the one that made this reservation) is still running. Retry after `Retry-After` seconds: you get its answer.' },
  'reservation-released': { status: 409, title: 'Reservation released', members: reservationId,
    about: 'The reservation was released (by the client, or after a declined or voided payment); it cannot be confirmed.' },
  'reservation-confirmed': { status: 409, title: 'Reservation already confirmed', members: { ...reservationId, order_id: Type.String() },
    about: 'The reservation is confirmed (`order_id`); it cannot be released.' },
  'payment-in-progress': { status: 409, title: 'Payment in progress', members: reservationId,
    about: 'The payment of this reservation is running or being settled; it cannot be released now. Confirm again (or GET the reservation) to learn the outcome.' },
  'reservation-expired': { status: 410, title: 'Reservation expired', members: reservationId,
    about: 'The hold expired and its units were returned. Reserve again.' },
  'body-too-large': { status: 413, title: 'Body too large',
    about: 'The body is over 16 KiB (counted while it streams). The connection is closed.' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type',
    about: 'The Content-Type is not JSON. Send application/json.' },
  'invalid-request': { status: 422, title: 'Invalid request', members: { errors: Type.Array(FieldError, { minItems: 1 }) },
    about: 'The body breaks the schema or the limits. `errors` lists every field at fault, each with a JSON pointer and a message (at most 20); `detail` says the same in words.' },
  'unknown-sku': { status: 422, title: 'Unknown SKU', members: { sku: Type.String() },
    about: 'A line names a SKU that is not in the catalog.' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency-Key reused with another body',
    about: 'This Idempotency-Key was used (by this token) with another body. Use a new key for a new request.' },
  'rate-limited': { status: 429, title: 'Too many requests', members: { retry_after_s: Type.Integer({ minimum: 1 }) }, headers: retryLater,
    about: 'Over the per-token or per-user request rate. Retry after `Retry-After` seconds.' },
  internal: { status: 500, title: 'Internal error', members: { request_id: Type.String() },
    about: 'A bug. The problem is logged with `request_id` (also in the x-request-id header): report it.' },
  fenced: { status: 503, title: 'Fenced', members: { request_id: Type.Optional(Type.String()) }, headers: retryLater,
    about: 'Redis may be behind PostgreSQL for this data (it restarted from an older state, or lost its data): nothing is held, restocked, paid or confirmed there, and its products and reservations are not read, until `stockade reconcile repair` or `reconcile rebuild` has made the stores agree. Retry after `Retry-After` seconds, with the same Idempotency-Key.' },
  unavailable: { status: 503, title: 'Service unavailable', members: { request_id: Type.Optional(Type.String()) }, headers: retryLater,
    about: 'Redis or PostgreSQL is unreachable, or the server is shutting down. Retry after `Retry-After` seconds, with the same Idempotency-Key.' },
  overloaded: { status: 503, title: 'Overloaded', headers: retryLater,
    about: 'At capacity: requests in flight past STOCKADE_INFLIGHT_MAX, a write-through backlog past STOCKADE_OUTBOX_LENGTH_MAX, or Redis memory past its watermark. New holds are refused; confirms and releases still pass. Retry after `Retry-After` seconds.' },
} as const satisfies Record<string, ProblemType>;

export type ProblemSlug = keyof typeof problemTypes;

export const problemSlugs = Object.keys(problemTypes) as ProblemSlug[];

/** A problem's `type` URI. */
export const problemUri = (slug: ProblemSlug) => `/problems/${slug}`;

/** The body of one problem type, exactly: RFC 9457's members and its own. */
export function problemSchema(slug: ProblemSlug) {
  const t: ProblemType = problemTypes[slug];
  return Type.Object({
    type: Type.Literal(problemUri(slug)), title: Type.String(), status: Type.Literal(t.status), detail: Type.String(), ...t.members,
  }, { additionalProperties: false, description: t.about });
}

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
  const { status, title } = problemTypes[slug];
  return { status, body: { type: problemUri(slug), title, status, detail, ...extra }, headers, problem: true };
}

/** 422 invalid-request with every field at fault; a check with no pointer (the engine's) names the whole body. */
export function invalidRequest(detail: string, errors: { pointer: string; message: string }[] = [{ pointer: '', message: detail }]): Reply {
  return problem('invalid-request', detail, { errors });
}
