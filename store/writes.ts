import { StockadeError, type OutboxEntry } from '../engine/index.ts';
import type postgres from 'postgres';
import type { Sql } from './db.ts';

/**
 * Bind parameters one statement may carry: PostgreSQL's protocol counts them in
 * 16 bits, and postgres.js refuses 65,534 or more (MAX_PARAMETERS_EXCEEDED).
 */
export const bindParametersMax = 65_533;

/** Rows of `columns` columns that fit in one statement's bind parameters. */
export function rowsPerStatementMax(columns: number): number {
  return Math.floor(bindParametersMax / columns);
}

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
        const partCount = Math.max(1, e.parts.length);
        rows.orders.push({ id: e.order, reservation_id: e.id, user_id: e.user, total_cents: e.amount, part_count: partCount, created_at: at });
        rows.payments.push({ order_id: e.order, amount_cents: e.amount, status: 'captured', reference: e.payment, captured_at: at });
      }
      rows.parts.push({ order_id: e.order, part: partition, event_id: eventId });
      for (const line of e.lines) rows.items.push({ order_id: e.order, sku: line.sku, qty: line.qty, price_cents: line.priceCents });
    }
  }
  return rows;
}

/**
 * Writes a batch in one transaction, table by table in foreign-key order, with
 * multi-row inserts cut by bind parameters (a batch of 100-line orders makes
 * tens of thousands of item rows). Every row has a natural unique key and ON
 * CONFLICT DO NOTHING, so a batch delivered twice (a worker killed after commit,
 * before it trimmed the outbox) writes nothing the second time.
 */
export async function writeEntries(sql: Sql, partition: number, entries: OutboxEntry[]): Promise<void> {
  const r = rowsOf(partition, entries);
  await sql.begin(async (tx) => {
    const top = await checkMark(tx, partition, entries);
    await insertRows(tx, 'products', r.products);
    await insertRows(tx, 'stock_ledger', r.ledger);
    await insertRows(tx, 'orders', r.orders);
    await insertRows(tx, 'payments', r.payments);
    await insertRows(tx, 'order_parts', r.parts);
    await insertRows(tx, 'order_items', r.items);
    await insertRows(tx, 'refunds', r.refunds);
    if (top) {
      await tx`insert into partition_marks (partition, seq, event_id) values (${partition}, ${top.seq}, ${top.eventId})
        on conflict (partition) do update set seq = excluded.seq, event_id = excluded.event_id
        where partition_marks.seq < excluded.seq`;
    }
  });
}

/** A stream id 'ms-n' as a pair of numbers, for ordering. */
function streamOrder(eventId: string): [bigint, bigint] {
  const [ms, n] = eventId.slice(eventId.indexOf(':') + 1).split('-');
  return [BigInt(ms ?? 0), BigInt(n ?? 0)];
}

function streamBefore(a: string, b: string): boolean {
  const [am, an] = streamOrder(a);
  const [bm, bn] = streamOrder(b);
  return am < bm || (am === bm && an < bn);
}

/**
 * Write-through's fencing backstop: the batch's highest sequence number (to
 * record as the partition's marker), after checking the batch against the
 * marker. An event numbered at or below the marker is one written before (a
 * batch delivered again, a parked entry retried: its stream id comes before
 * the marker's event) unless Redis went back in time and numbered new events
 * again: such an event (FENCED) is not written.
 */
async function checkMark(tx: postgres.TransactionSql, partition: number, entries: OutboxEntry[]): Promise<{ seq: number; eventId: string } | null> {
  let top: { seq: number; eventId: string } | null = null;
  for (const { eventId, event } of entries) if (event.q !== undefined && (!top || event.q > top.seq)) top = { seq: event.q, eventId };
  if (!top) return null;
  const [mark] = await tx`select seq, event_id from partition_marks where partition = ${partition} for update`;
  if (!mark) return top;
  const markSeq = Number(mark.seq);
  const markEvent = String(mark.event_id);
  const again = entries.find(({ eventId, event: { q } }) => q !== undefined && q <= markSeq
    && eventId !== markEvent && !(q < markSeq && streamBefore(eventId, markEvent)));
  if (again) {
    throw new StockadeError('FENCED', `outbox event ${again.eventId} has sequence number ${again.event.q}, at or below `
      + `PostgreSQL's marker ${markSeq} (event ${markEvent}) of partition ${partition}: Redis went back in time; not written`);
  }
  return top.seq > markSeq ? top : null;
}

/** Inserts rows of one shape, as many statements as their bind parameters need. */
async function insertRows(tx: postgres.TransactionSql, table: string, rows: object[]): Promise<void> {
  if (rows.length === 0) return;
  const step = rowsPerStatementMax(Object.keys(rows[0]!).length);
  for (let at = 0; at < rows.length; at += step) {
    await tx`insert into ${tx(table)} ${tx(rows.slice(at, at + step))} on conflict do nothing`;
  }
}
