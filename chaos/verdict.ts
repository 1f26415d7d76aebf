import type { Sql } from '../store/db.ts';
import type { Held, Ledger } from './buyers.ts';

/** One invariant of DESIGN.md §2 (or a check the harness adds), with what was checked and each violation found. */
export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
  violations: string[];
}

/** How many violations a report names (the count is always whole). */
const namedMax = 10;

function result(name: string, violations: string[], detail: string): InvariantResult {
  return { name, ok: violations.length === 0, detail, violations: violations.slice(0, namedMax) };
}

interface OrderRow {
  id: string;
  reservation_id: string;
  total_cents: string;
}

/**
 * D, against the buyers' ledger: every confirm answered 200 is exactly one
 * order in PostgreSQL, under the order id the buyer was given, with its items
 * (the units of the lines held) and one captured payment of its total.
 */
export async function durableAgainstLedger(sql: Sql, ledger: Ledger): Promise<InvariantResult> {
  const acked = [...ledger.held.values()].filter((h) => h.confirm?.status === 200);
  const ids = acked.map((h) => h.id);
  const orders = ids.length ? await sql<OrderRow[]>`select id, reservation_id, total_cents::text from orders where reservation_id in ${sql(ids)}` : [];
  const orderIds = orders.map((o) => o.id);
  const items = orderIds.length ? await sql<{ order_id: string; sku: string; qty: number }[]>`
    select order_id, sku, qty from order_items where order_id in ${sql(orderIds)}` : [];
  const payments = orderIds.length ? await sql<{ order_id: string; status: string; amount_cents: string }[]>`
    select order_id, status, amount_cents::text from payments where order_id in ${sql(orderIds)}` : [];
  const byReservation = groupBy(orders, (o) => o.reservation_id);
  const itemsOf = groupBy(items, (i) => i.order_id);
  const paymentsOf = groupBy(payments, (p) => p.order_id);
  const violations: string[] = [];
  for (const h of acked) {
    const found = byReservation.get(h.id) ?? [];
    if (found.length !== 1) {
      violations.push(`confirm of ${h.id} answered 200 (order ${h.confirm!.orderId}), PostgreSQL has ${found.length} orders for it`);
      continue;
    }
    const order = found[0]!;
    if (order.id !== h.confirm!.orderId) violations.push(`${h.id}: the buyer was given order ${h.confirm!.orderId}, PostgreSQL has ${order.id}`);
    const units = unitsOf(h);
    const written = new Map((itemsOf.get(order.id) ?? []).map((i) => [i.sku, i.qty]));
    if (!sameUnits(units, written)) violations.push(`order ${order.id}: items ${show(written)}, the hold was ${show(units)}`);
    const paid = paymentsOf.get(order.id) ?? [];
    if (paid.length !== 1 || paid[0]!.status !== 'captured' || Number(paid[0]!.amount_cents) !== h.totalCents) {
      violations.push(`order ${order.id}: payments ${JSON.stringify(paid)}, expected one captured of ${h.totalCents}`);
    }
  }
  return result('D: every acknowledged confirm is one order with its items and one captured payment (buyers\' ledger)', violations,
    `${acked.length.toLocaleString('en-US')} confirms answered 200, each checked in PostgreSQL`);
}

/**
 * T, against the ledger: every reservation answered 201 ended confirmed,
 * released or expired (as its GET says), or, where Redis lost it with its
 * data, has no order and held nothing (its units went back with repair);
 * none is both released and sold.
 */
export async function terminatedAgainstLedger(sql: Sql, ledger: Ledger, statusOf: (id: string) => Promise<string | null>,
  redisLostData: boolean, lost: Set<string> = new Set()): Promise<InvariantResult> {
  const held = [...ledger.held.values()];
  const ordered = new Set((held.length ? await sql<{ reservation_id: string }[]>`
    select reservation_id from orders where reservation_id in ${sql(held.map((h) => h.id))}` : []).map((r) => r.reservation_id));
  const ends = new Map<string, number>();
  const violations: string[] = [];
  for (const h of held) {
    const status = await statusOf(h.id);
    const end = status ?? (redisLostData && !ordered.has(h.id) ? 'lost with Redis data (units back by repair)' : 'not found');
    if (status === null && redisLostData && !ordered.has(h.id)) lost.add(h.id);
    ends.set(end, (ends.get(end) ?? 0) + 1);
    if (end === 'held' || end === 'paying' || end === 'not found') violations.push(`reservation ${h.id} is ${end} after the drain`);
    if (status === 'released' && ordered.has(h.id)) violations.push(`reservation ${h.id} is released and has an order`);
    if (h.released && ordered.has(h.id)) violations.push(`reservation ${h.id} was released (200) and has an order`);
    if (h.confirm?.status === 200 && status !== null && status !== 'confirmed') violations.push(`reservation ${h.id} was confirmed (200), reads ${status}`);
  }
  return result('T: every reservation answered 201 ended confirmed, released or expired', violations,
    [...ends].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v.toLocaleString('en-US')}`).join(', '));
}

/** N, against the ledger and PostgreSQL: per SKU, units sold never exceed units stocked (acknowledged units included). */
export async function noOversell(sql: Sql, ledger: Ledger, stocked: Map<string, number>): Promise<InvariantResult> {
  const rows = await sql<{ sku: string; sold: string }[]>`select sku, sum(qty)::text as sold from order_items where sku in ${sql([...stocked.keys()])} group by sku`;
  const acked = new Map<string, number>();
  for (const h of ledger.held.values()) {
    if (h.confirm?.status !== 200) continue;
    for (const l of h.lines) acked.set(l.sku, (acked.get(l.sku) ?? 0) + l.qty);
  }
  const violations: string[] = [];
  let sold = 0;
  for (const [sku, total] of stocked) {
    const pg = Number(rows.find((r) => r.sku === sku)?.sold ?? 0);
    sold += pg;
    if (pg > total) violations.push(`${sku}: PostgreSQL sold ${pg} of ${total} stocked`);
    if ((acked.get(sku) ?? 0) > total) violations.push(`${sku}: buyers were acknowledged ${acked.get(sku)} units of ${total}`);
    if ((acked.get(sku) ?? 0) > pg) violations.push(`${sku}: buyers were acknowledged ${acked.get(sku)} units, PostgreSQL sold ${pg}`);
  }
  return result('N: no SKU sold beyond its stock (PostgreSQL, and the units acknowledged to buyers)', violations,
    `${stocked.size} SKUs, ${[...stocked.values()].reduce((a, b) => a + b, 0).toLocaleString('en-US')} units stocked, ${sold.toLocaleString('en-US')} sold`);
}

/** A stretch of time whose writes Redis lost (from the AOF copy to the crash; ms since the epoch). */
export interface LossWindow { fromMs: number; toMs: number }

/**
 * I, as the buyers saw it: a key never answered two reservations, no id was granted twice, no reservation confirmed as
 * two orders. After Redis lost data, a key answered again with a new id is forgiven when every other id it was
 * answered with was lost with that data (`lost`), or was answered within a stretch Redis lost (its claim went with
 * it, though repair may have recreated its paid order from the provider's records): one reservation per claim stands.
 */
export function idempotentAgainstLedger(ledger: Ledger, lost: Set<string>, lossWindows: readonly LossWindow[] = []): InvariantResult {
  const violations = [...ledger.violations];
  let forgiven = 0;
  const inLostStretch = (atMs: number | undefined) => atMs !== undefined && lossWindows.some((w) => atMs >= w.fromMs && atMs <= w.toMs);
  for (const c of ledger.keyConflicts) {
    if (c.ids.filter((id) => !lost.has(id) && !inLostStretch(c.answeredAtMs[id])).length <= 1) forgiven += 1;
    else violations.push(`I: key ${c.key} answered ${c.ids.length} reservations: ${c.ids.join(', ')}`);
  }
  return result('I: resends and duplicates had one effect (same reservation, same order)', violations,
    `${ledger.duplicatesSent.toLocaleString('en-US')} requests sent twice at once, ${ledger.retries.toLocaleString('en-US')} resends`
    + (forgiven > 0 ? `; ${forgiven} keys answered again after Redis lost their first reservation and claim` : ''));
}

function unitsOf(h: Held): Map<string, number> {
  const units = new Map<string, number>();
  for (const l of h.lines) units.set(l.sku, (units.get(l.sku) ?? 0) + l.qty);
  return units;
}

function sameUnits(a: Map<string, number>, b: Map<string, number>): boolean {
  return a.size === b.size && [...a].every(([sku, qty]) => b.get(sku) === qty);
}

const show = (m: Map<string, number>) => [...m].map(([sku, qty]) => `${sku}×${qty}`).join(' ') || 'none';

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}
