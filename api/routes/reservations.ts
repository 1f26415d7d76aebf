import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.ts';
import { scopedKey } from '../idempotency.ts';
import { confirmReply, holdStateReply, reserveReply } from '../outcomes.ts';
import { problem, type Reply } from '../problems.ts';
import { withBody, type Route } from '../router.ts';
import { Confirmation, PaymentPending, Reservation } from '../schemas.ts';
import { reservationView } from '../views.ts';

const reservationId = { id: Type.String({ description: 'a reservation id (opaque)' }) };

export function reservationRoutes(d: ApiDeps): Route[] {
  const view = async (id: string): Promise<Reply> => {
    const r = await d.engine.getReservation(id);
    return r ? { status: 200, body: reservationView(r) } : problem('not-found', `no reservation ${id.slice(0, 64)}`);
  };
  return [
    withBody(d.validators.createReservation, { method: 'post', pattern: '/v1/reservations', operationId: 'createReservation',
      summary: 'Reserve (hold) units', tag: 'reservations', access: 'token', idempotencyKey: 'required',
      responses: { 201: { description: 'the reservation, held', schema: Reservation } },
      problems: ['out-of-stock', 'per-user-limit', 'unknown-sku', 'idempotency-key-reused', 'request-in-progress', 'rate-limited'],
      handler: async (req) => {
        const b = req.body;
        const request = { userId: b.user_id, items: b.items, ttlMs: b.ttl_ms, idempotencyKey: scopedKey(req, 'reserve', req.idempotencyKey) };
        // A replay gets its stored answer, limited or not.
        if (d.limiter.limitsUsers && !(await d.engine.isReplay(request))) {
          const limited = await d.limiter.user(b.user_id);
          if (limited) return limited;
        }
        return reserveReply(await d.engine.reserve(request));
      } }),
    { method: 'get', pattern: '/v1/reservations/:id', operationId: 'getReservation', summary: 'A reservation', tag: 'reservations',
      access: 'token', params: reservationId, responses: { 200: { description: 'the reservation', schema: Reservation } },
      problems: ['not-found'], handler: (req) => view(req.params[0]!) },
    withBody(d.validators.confirm, { method: 'post', pattern: '/v1/reservations/:id/confirm', operationId: 'confirmReservation',
      summary: 'Pay and confirm (the checkout saga)', tag: 'reservations', access: 'token', idempotencyKey: 'optional', params: reservationId,
      responses: {
        200: { description: 'confirmed: the reservation, its order id and the captured payment', schema: Confirmation },
        202: { description: 'the payment provider has not answered in time; the outcome follows (confirm again, or GET the reservation)',
          schema: PaymentPending, headers: ['Retry-After'] },
      },
      problems: ['payment-declined', 'payment-voided', 'payment-refunded', 'reservation-expired', 'reservation-released', 'reservation-confirmed',
        'payment-in-progress', 'not-found', 'invalid-request', 'idempotency-key-reused', 'request-in-progress'],
      handler: async (req) => {
        const id = req.params[0]!;
        const idempotencyKey = req.idempotencyKey ? scopedKey(req, 'confirm', req.idempotencyKey) : undefined;
        return confirmReply(await d.checkout.confirm(id, req.body.payment.token, { idempotencyKey }), id);
      } }),
    { method: 'post', pattern: '/v1/reservations/:id/release', operationId: 'releaseReservation', summary: 'Release a hold: its units return at once',
      tag: 'reservations', access: 'token', params: reservationId, responses: { 200: { description: 'the reservation, released', schema: Reservation } },
      problems: ['reservation-confirmed', 'payment-in-progress', 'reservation-expired', 'request-in-progress', 'invalid-request', 'not-found'],
      handler: async (req) => {
        const id = req.params[0]!;
        const out = await d.engine.release(id, 'client');
        return out.kind === 'released' ? view(id) : holdStateReply(out, id);
      } },
  ];
}
