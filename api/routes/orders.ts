import { Type } from '@sinclair/typebox';
import { getOrder, listUserOrders, userOrdersLimitMax } from '../../store/orders.ts';
import { isOrderId } from '../../engine/index.ts';
import type { ApiDeps } from '../deps.ts';
import { limitParam } from '../http.ts';
import { problem } from '../problems.ts';
import type { Route } from '../router.ts';
import { Order, OrderPage, ownerSchema, pageQuery, userIdSchema } from '../schemas.ts';
import { cursor } from '../views.ts';
import { ownerQuery, userIdProblem } from './reservations.ts';

const ordersLimitDefault = 50;

/** Orders are read from PostgreSQL, the system of record: 404 until written through. */
export function orderRoutes(d: ApiDeps): Route[] {
  return [
    { method: 'get', pattern: '/v1/orders/:id', operationId: 'getOrder', summary: 'An order with items and payment, from PostgreSQL', tag: 'orders',
      access: 'token', params: { id: Type.String({ description: 'an order id (opaque)' }) }, query: { user_id: ownerSchema },
      responses: { 200: { description: 'the order', schema: Order } }, problems: ['not-found', 'bad-request'], handler: async (req) => {
        const id = req.params[0]!;
        const { owner, refused } = ownerQuery(req.query);
        if (refused) return refused;
        // Another user's order answers as an unknown one does (404).
        const order = isOrderId(id) ? await getOrder(d.sql, id, owner) : null;
        return order ? { status: 200, body: order } : problem('not-found', `no order ${id.slice(0, 64)} (yet: orders appear once written through)`);
      } },
    { method: 'get', pattern: '/v1/users/:user_id/orders', operationId: 'listUserOrders', summary: "A user's orders, newest first", tag: 'orders',
      access: 'token', params: { user_id: userIdSchema }, query: pageQuery(ordersLimitDefault, userOrdersLimitMax),
      responses: { 200: { description: 'a page of orders', schema: OrderPage } }, problems: ['bad-request'], handler: async (req) => {
        const userId = req.params[0]!;
        const refused = userIdProblem(userId, 'user_id');
        if (refused) return refused;
        const limit = limitParam(req.query, ordersLimitDefault, userOrdersLimitMax);
        if (limit === null) return problem('bad-request', `limit must be an integer in 1..${userOrdersLimitMax}`);
        const after = decodeOrderCursor(req.query.get('cursor'));
        if (after === 'bad') return problem('bad-request', 'cursor is not one this API gave');
        const items = await listUserOrders(d.sql, userId, limit, after ?? undefined);
        const last = items.length === limit ? items[items.length - 1] : undefined;
        return { status: 200, body: { items, next_cursor: last ? cursor.encode(`${Date.parse(last.created_at)}|${last.id}`) : null } };
      } },
  ];
}

const cursorMsMax = Date.UTC(9999, 11, 31);

/** A cursor is "<created_at as epoch ms>|<order id>": digits and an id shape, checked before SQL sees them. */
function decodeOrderCursor(text: string | null): { createdAt: string; id: string } | null | 'bad' {
  if (text === null) return null;
  const [ms, id] = (cursor.decode(text) ?? '').split('|');
  if (!ms || !/^\d{1,15}$/.test(ms) || Number(ms) > cursorMsMax || !id || !isOrderId(id)) return 'bad';
  return { createdAt: new Date(Number(ms)).toISOString(), id };
}
