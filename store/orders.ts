import type { Sql } from './db.ts';

export interface OrderItemRow {
  sku: string;
  qty: number;
  price_cents: number;
}

export interface OrderView {
  id: string;
  reservation_id: string;
  user_id: string;
  total_cents: number;
  created_at: string;
  items: OrderItemRow[];
  payment: { status: string; amount_cents: number; captured_at: string } | null;
}

export const userOrdersLimitMax = 100;

/** An order with its items and payment, once every part is written through; null until then (and, with `owner`, unless it is that user's). */
export async function getOrder(sql: Sql, id: string, owner?: string): Promise<OrderView | null> {
  const [order] = await sql`select o.id, o.reservation_id, o.user_id, o.total_cents, o.created_at from orders o
    where o.id = ${id} ${owner === undefined ? sql`` : sql`and o.user_id = ${owner}`}
      and (select count(*) from order_parts p where p.order_id = o.id) = o.part_count`;
  if (!order) return null;
  const [items, payments] = await Promise.all([
    sql`select sku, qty, price_cents from order_items where order_id = ${id} order by sku`,
    sql`select status, amount_cents, captured_at from payments where order_id = ${id}`,
  ]);
  return viewOf(order, items as unknown as OrderItemRow[], payments[0] ?? null);
}

/** A user's orders, newest first, at most `limit`; `before` continues after a previous page's last order. */
export async function listUserOrders(sql: Sql, userId: string, limit: number, before?: { createdAt: string; id: string }): Promise<OrderView[]> {
  const complete = sql`(select count(*) from order_parts p where p.order_id = o.id) = o.part_count`;
  const orders = before
    ? await sql`select o.id, o.reservation_id, o.user_id, o.total_cents, o.created_at from orders o
        where o.user_id = ${userId} and (o.created_at, o.id) < (${before.createdAt}::timestamptz, ${before.id}) and ${complete}
        order by o.created_at desc, o.id desc limit ${limit}`
    : await sql`select o.id, o.reservation_id, o.user_id, o.total_cents, o.created_at from orders o
        where o.user_id = ${userId} and ${complete} order by o.created_at desc, o.id desc limit ${limit}`;
  if (orders.length === 0) return [];
  const ids = orders.map((o) => o.id as string);
  const [items, payments] = await Promise.all([
    sql`select order_id, sku, qty, price_cents from order_items where order_id in ${sql(ids)} order by sku`,
    sql`select order_id, status, amount_cents, captured_at from payments where order_id in ${sql(ids)}`,
  ]);
  return orders.map((o) => viewOf(o,
    items.filter((i) => i.order_id === o.id).map((i) => ({ sku: i.sku, qty: i.qty, price_cents: i.price_cents })),
    payments.find((p) => p.order_id === o.id) ?? null));
}

function viewOf(order: Record<string, unknown>, items: OrderItemRow[], payment: Record<string, unknown> | null): OrderView {
  return {
    id: order.id as string,
    reservation_id: order.reservation_id as string,
    user_id: order.user_id as string,
    total_cents: order.total_cents as number,
    created_at: (order.created_at as Date).toISOString(),
    items,
    payment: payment
      ? { status: payment.status as string, amount_cents: payment.amount_cents as number, captured_at: (payment.captured_at as Date).toISOString() }
      : null,
  };
}
