import type { ApiDeps } from '../deps.ts';
import { idempotencyKeyOf, scopedKey } from '../idempotency.ts';
import { confirmReply, holdStateReply, reserveReply } from '../outcomes.ts';
import { problem, type Reply } from '../problems.ts';
import type { Route } from '../router.ts';
import { reservationView } from '../views.ts';

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
      const request = { userId: v.value.user_id, items: v.value.items, ttlMs: v.value.ttl_ms, idempotencyKey: scopedKey(req, 'reserve', k.key) };
      // A replay gets its stored answer, limited or not.
      if (d.limiter.limitsUsers && !(await d.engine.isReplay(request))) {
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
      const idempotencyKey = k.key ? scopedKey(req, 'confirm', k.key) : undefined;
      return confirmReply(await d.checkout.confirm(id, v.value.payment.token, { idempotencyKey }), id);
    } },
    { method: 'post', pattern: '/v1/reservations/:id/release', access: 'token', body: false, handler: async (req) => {
      const id = req.params[0]!;
      const out = await d.engine.release(id, 'client');
      return out.kind === 'released' ? view(id) : holdStateReply(out, id);
    } },
  ];
}
