import { createHash, randomUUID } from 'node:crypto';
import type { ApiDeps } from '../deps.ts';
import { idempotencyKeyOf, scopedKey } from '../idempotency.ts';
import { confirmReply, holdStateReply, replayed, reserveReply } from '../outcomes.ts';
import { problem, type Reply } from '../problems.ts';
import type { Route } from '../router.ts';
import { reservationView } from '../views.ts';
import { fingerprintOf } from '../../engine/holds/make.ts';

export function reservationRoutes(d: ApiDeps): Route[] {
  const view = async (id: string): Promise<Reply> => {
    const r = await d.engine.getReservation(id);
    return r ? { status: 200, body: reservationView(r) } : problem('not-found', `no reservation ${id.slice(0, 64)}`);
  };
  return [
    { method: 'post', pattern: '/v1/reservations', access: 'token', body: true, handler: async (req) => {
      const k = idempotencyKeyOf(req, true);
      if ('reply' in k) return k.reply;
      const v = d.validators.createReservation.check(req.body);
      if (!v.ok) return problem('invalid-request', v.detail);
      const body = { userId: v.value.user_id, items: v.value.items, ttlMs: v.value.ttl_ms, idempotencyKey: scopedKey(req, 'reserve', k.key) };
      const request = { ...body, fingerprint: fingerprintOf(body) }; // computed once: the limiter's check and the claim share it
      // A replay gets its stored answer, limited or not.
      if (d.limiter.limitsUsers && !(await d.engine.holdMaker.isReplay(request.idempotencyKey, request.fingerprint))) {
        const limited = await d.limiter.user(v.value.user_id);
        if (limited) return limited;
      }
      return reserveReply(await d.engine.reserve(request));
    } },
    { method: 'get', pattern: '/v1/reservations/:id', access: 'token', body: false, handler: (req) => view(req.params[0]!) },
    { method: 'post', pattern: '/v1/reservations/:id/confirm', access: 'token', body: true, handler: async (req) => {
      const id = req.params[0]!;
      const k = idempotencyKeyOf(req, false);
      if ('reply' in k) return k.reply;
      const v = d.validators.confirm.check(req.body);
      if (!v.ok) return problem('invalid-request', v.detail);
      let isReplay = false;
      // Past the memory watermark a confirm makes no new claim (it is idempotent by its reservation without one).
      if (k.key && (await d.engine.hasMemoryRoom())) {
        const fingerprint = createHash('sha256').update(`${id}\n${v.value.payment.token}`).digest('base64url').slice(0, 24);
        // The claim names this request (ids must be unique per request for a resend to be told apart).
        const claim = await d.engine.holdMaker.claim(scopedKey(req, 'confirm', k.key), fingerprint, randomUUID());
        if (claim.kind === 'reused') return problem('idempotency-key-reused', 'this Idempotency-Key was used with another body');
        isReplay = claim.kind === 'replay';
      }
      const reply = confirmReply(await d.checkout.confirm(id, v.value.payment.token), id);
      return isReplay ? replayed(reply) : reply;
    } },
    { method: 'post', pattern: '/v1/reservations/:id/release', access: 'token', body: false, handler: async (req) => {
      const id = req.params[0]!;
      const out = await d.engine.release(id, 'client');
      return out.kind === 'released' ? view(id) : holdStateReply(out, id);
    } },
  ];
}
