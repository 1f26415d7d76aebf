import type { OutboxEntry } from '../engine/outbox.ts';
import { LINE_STRIDE, partitionList } from '../engine/records.ts';
import type { Sql } from './db.ts';


/** The rows a batch of one partition's outbox events becomes. */
export function rowsOf(partition: number, entries: OutboxEntry[]) {
  const rows = {
    products: [] as object[], ledger: [] as object[], orders: [] as object[],
    payments: [] as object[], parts: [] as object[], items: [] as object[], refunds: [] as object[],
  };
  for (const { eventId, event: e } of entries) {
    const at = new Date(e.at);
    if (e.t === 'product') {
      rows.products.push({ sku: e.sku, name: e.name, price_cents: e.price, per_user_limit: e.limit, created_at: at });
      rows.ledger.push({ event_id: eventId, sku: e.sku, delta: e.stock, total: e.stock, at });
    } else if (e.t === 'stock') {
      rows.ledger.push({ event_id: eventId, sku: e.sku, delta: e.delta, total: e.total, at });
    } else if (e.t === 'refund') {
      rows.refunds.push({ reservation_id: e.id, user_id: e.user, amount_cents: e.amount, reference: e.payment, reason: e.reason,
        refunded_at: at, event_id: eventId });
    } else if (e.t === 'order') {
      if (e.home === '') {
        const partCount = Math.max(1, partitionList(e.parts).length);
        rows.orders.push({ id: e.order, reservation_id: e.id, user_id: e.user, total_cents: e.amount, part_count: partCount, created_at: at });
        rows.payments.push({ order_id: e.order, amount_cents: e.amount, status: 'captured', reference: e.payment, captured_at: at });
      }
      rows.parts.push({ order_id: e.order, part: partition, event_id: eventId });
      for (let i = 0; i < e.lines.length; i += LINE_STRIDE) {
        rows.items.push({ order_id: e.order, sku: e.lines[i], qty: Number(e.lines[i + 1]), price_cents: Number(e.lines[i + 2]) });
      }
    }
  }
  return rows;
}

/**
 * Writes a batch in one transaction, each table with one multi-row insert, in
 * foreign-key order. Every row has a natural unique key and ON CONFLICT DO
 * NOTHING, so a batch delivered twice (a worker killed after commit, before it
 * trimmed the outbox) writes nothing the second time.
 */
export async function writeEntries(sql: Sql, partition: number, entries: OutboxEntry[]): Promise<void> {
  const r = rowsOf(partition, entries);
  await sql.begin(async (tx) => {
    if (r.products.length) await tx`insert into products ${tx(r.products)} on conflict do nothing`;
    if (r.ledger.length) await tx`insert into stock_ledger ${tx(r.ledger)} on conflict do nothing`;
    if (r.orders.length) await tx`insert into orders ${tx(r.orders)} on conflict do nothing`;
    if (r.payments.length) await tx`insert into payments ${tx(r.payments)} on conflict do nothing`;
    if (r.parts.length) await tx`insert into order_parts ${tx(r.parts)} on conflict do nothing`;
    if (r.items.length) await tx`insert into order_items ${tx(r.items)} on conflict do nothing`;
    if (r.refunds.length) await tx`insert into refunds ${tx(r.refunds)} on conflict do nothing`;
  });
}
