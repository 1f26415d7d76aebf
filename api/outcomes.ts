import type { ConfirmOutcome, ConfirmReply, AdjustStockOutcome, CreateProductOutcome, HoldState, ReserveOutcome, ReserveResult } from '../engine/index.ts';
import { invalidRequest, problem, type Reply } from './problems.ts';
import { productView, reservationView } from './views.ts';

/**
 * Every engine outcome mapped to HTTP, in one place: business outcomes are
 * values here, each with its status and problem type.
 */
export function holdStateReply(state: HoldState, id: string): Reply {
  switch (state.kind) {
    case 'not_found': return problem('not-found', `no reservation ${id}`);
    case 'expired': return problem('reservation-expired', `reservation ${id} expired; its units were returned`, { reservation_id: id });
    case 'released': return problem('reservation-released', `reservation ${id} was released`, { reservation_id: id });
    case 'confirmed': return problem('reservation-confirmed', `reservation ${id} is already confirmed`, { reservation_id: id, order_id: state.orderId });
    case 'in_progress': return problem('request-in-progress', 'the request that made this reservation is still running; retry shortly', {}, { 'retry-after': '1' });
    case 'payment_in_progress': return problem('payment-in-progress', `the payment of reservation ${id} is in progress`, { reservation_id: id });
    case 'payment_not_begun': return invalidRequest(`reservation ${id} has no payment begun`);
    case 'payment_overdue': return problem('payment-in-progress', `the payment of reservation ${id} is being settled`, { reservation_id: id });
  }
}

function reserveResultReply(r: ReserveResult): Reply {
  switch (r.kind) {
    case 'held': return { status: 201, body: reservationView(r.reservation) };
    case 'out_of_stock':
      return problem('out-of-stock', `only ${r.available} of ${r.sku} available`, { sku: r.sku, available: r.available });
    case 'per_user_limit':
      return problem('per-user-limit', `a user may hold at most ${r.limit} of ${r.sku}`, { sku: r.sku, limit: r.limit });
    case 'not_found': return problem('unknown-sku', `no product ${r.sku}`, { sku: r.sku });
    case 'in_progress':
      return problem('request-in-progress', 'a request with this Idempotency-Key is still running; retry shortly', {}, { 'retry-after': '1' });
  }
}

/** A reply marked as the stored answer of an earlier request with the same Idempotency-Key. */
export function replayed(reply: Reply): Reply {
  return { ...reply, headers: { ...reply.headers, 'idempotent-replayed': 'true' } };
}

export function reserveReply(out: ReserveOutcome): Reply {
  switch (out.kind) {
    case 'duplicate': return replayed(reserveResultReply(out.of));
    case 'key_reused': return problem('idempotency-key-reused', 'this Idempotency-Key was used with another body');
    case 'invalid': return invalidRequest(out.detail);
    default: return reserveResultReply(out);
  }
}

export function createProductReply(out: CreateProductOutcome, sku: string): Reply {
  if (out.kind === 'created') return { status: 201, body: productView(out.product), headers: { location: `/v1/products/${sku}` } };
  if (out.kind === 'exists') return problem('product-exists', `product ${sku} exists`, { sku });
  return invalidRequest(out.detail);
}

export function adjustStockReply(out: AdjustStockOutcome, sku: string): Reply {
  switch (out.kind) {
    case 'duplicate': return replayed(adjustStockReply(out.of, sku));
    case 'key_reused': return problem('idempotency-key-reused', 'this Idempotency-Key was used with another body');
    case 'adjusted': return { status: 200, body: productView(out.product) };
    case 'not_found': return problem('not-found', `no product ${sku}`);
    case 'would_go_negative':
      return problem('stock-would-go-negative', `only ${out.available} of ${sku} available to take away`, { sku, available: out.available });
    case 'invalid': return invalidRequest(out.detail);
  }
}

export function confirmReply(out: ConfirmReply, id: string): Reply {
  switch (out.kind) {
    case 'duplicate': return replayed(confirmOutcomeReply(out.of, id));
    case 'key_reused': return problem('idempotency-key-reused', 'this Idempotency-Key was used with another body');
    default: return confirmOutcomeReply(out, id);
  }
}

function confirmOutcomeReply(out: ConfirmOutcome, id: string): Reply {
  switch (out.kind) {
    case 'confirmed':
      return { status: 200, body: { reservation: reservationView(out.reservation), order_id: out.orderId,
        payment: { status: 'captured', amount_cents: out.amountCents } } };
    case 'declined':
      return problem('payment-declined', `the payment was declined; reservation ${id} was released`, { reservation_id: id });
    case 'voided':
      return problem('payment-voided', `the payment window of reservation ${id} closed before a charge was captured: the charge was voided, nothing was taken, and the reservation was released`,
        { reservation_id: id });
    case 'refunded':
      return problem('payment-refunded', `the charge landed after reservation ${id} was released; it was refunded in full`,
        { reservation_id: id, amount_cents: out.amountCents });
    case 'payment_pending':
      return { status: 202, body: { reservation_id: id, status: 'paying', detail: 'the payment provider has not answered yet; the outcome follows (retry confirm or GET the reservation)' },
        headers: { 'retry-after': '2' } };
    default: return holdStateReply(out, id);
  }
}
