import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.ts';
import { scopedKey } from '../idempotency.ts';
import { confirmReply, holdStateReply, reserveReply } from '../outcomes.ts';
import { userIdLengthMax } from '../../engine/index.ts';
import { problem, type Reply } from '../problems.ts';
import { withBody, withOptionalBody, type Route } from '../router.ts';
import { Confirmation, ownerSchema, PaymentPending, Reservation } from '../schemas.ts';
import { reservationView } from '../views.ts';

const reservationId = { id: Type.String({ description: 'a reservation id (opaque)' }) };

/** A user id in a path or query: 1..128 characters, none of them NUL (as the create route's body). */
export function userIdProblem(userId: string, name: string): Reply | null {
  if (userId.length > 0 && userId.length <= userIdLengthMax && !userId.includes('\0')) return null;
  return problem('bad-request', `${name} must be 1..${userIdLengthMax} characters, none of them NUL`);
}

/** The optional `user_id` query parameter (the ownership check): absent, present, or refused (400). */
export function ownerQuery(query: URLSearchParams): { owner?: string; refused?: Reply } {
  const owner = query.get('user_id');
  if (owner === null) return {};
  const refused = userIdProblem(owner, 'user_id');
  return refused ? { refused } : { owner };
}

/**
 * Reads and actions on a reservation take an optional `user_id`, the
 * storefront's authenticated shopper: a reservation of another user answers
 * what an unknown id answers (404) and changes nothing, so a leaked id is no
 * handle. The engine checks it (ownership is a rule about reservations, not
 * about HTTP); this file only carries it.
 */
export function reservationRoutes(d: ApiDeps): Route[] {
  const view = async (id: string, owner?: string): Promise<Reply> => {
    const r = await d.engine.getReservation(id, owner);
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
      access: 'token', params: reservationId, query: { user_id: ownerSchema }, responses: { 200: { description: 'the reservation', schema: Reservation } },
      problems: ['not-found', 'bad-request'], handler: async (req) => {
        const { owner, refused } = ownerQuery(req.query);
        return refused ?? view(req.params[0]!, owner);
      } },
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
        return confirmReply(await d.checkout.confirm(id, req.body.payment.token, { idempotencyKey, owner: req.body.user_id }), id);
      } }),
    withOptionalBody(d.validators.release, { method: 'post', pattern: '/v1/reservations/:id/release', operationId: 'releaseReservation',
      summary: 'Release a hold: its units return at once', tag: 'reservations', access: 'token', params: reservationId,
      responses: { 200: { description: 'the reservation, released', schema: Reservation } },
      problems: ['reservation-confirmed', 'payment-in-progress', 'reservation-expired', 'request-in-progress', 'invalid-request', 'not-found'],
      handler: async (req) => {
        const id = req.params[0]!;
        const owner = req.body?.user_id;
        const out = await d.engine.release(id, 'client', owner);
        return out.kind === 'released' ? view(id, owner) : holdStateReply(out, id);
      } }),
  ];
}
