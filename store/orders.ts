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

/** An order with its items and payment, as written through; null until then. */
export async function getOrder(sql: Sql, id: string): Promise<OrderView | null> {
  const [order] = await sql`select id, reservation_id, user_id, total_cents, created_at from orders where id = ${id}`;
  if (!order) return null;
  const [items, payments] = await Promise.all([
    sql`select sku, qty, price_cents from order_items where order_id = ${id} order by sku`,
    sql`select status, amount_cents, captured_at from payments where order_id = ${id}`,
  ]);
  return viewOf(order, items as unknown as OrderItemRow[], payments[0] ?? null);
}

/** A user's orders, newest first, at most `limit`; `before` continues after a previous page's last order. */
export async function listUserOrders(sql: Sql, userId: string, limit: number, before?: { createdAt: string; id: string }): Promise<OrderView[]> {
  const orders = before
    ? await sql`select id, reservation_id, user_id, total_cents, created_at from orders
        where user_id = ${userId} and (created_at, id) < (${before.createdAt}::timestamptz, ${before.id})
        order by created_at desc, id desc limit ${limit}`
    : await sql`select id, reservation_id, user_id, total_cents, created_at from orders
        where user_id = ${userId} order by created_at desc, id desc limit ${limit}`;
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
