import { recordView } from '../store/marks.ts';
import { partitionOf, type ChargeRecord, type DecodedEntry, type Engine, type PartitionSnapshot, type Stock } from '../engine/index.ts';
import { incompleteOrders } from '../store/order-parts.ts';
import type { Sql } from '../store/db.ts';
import { readStoreView, type StoreView } from '../store/reconcile.ts';

/** The payment provider as the reconciler reads it: its records one by one, and every record it keeps. */
export interface ChargeLedger {
  lookup(reservationId: string): Promise<ChargeRecord | null>;
  charges(): AsyncIterable<ChargeRecord>;
}

export interface VerifyDeps {
  engine: Engine;
  sql: Sql;
  provider: ChargeLedger;
}

export type ViolationKind =
  /** C: available + reserved + sold != total. */
  | 'conservation'
  /** C: a count below zero. */
  | 'negative_count'
  /** N: sold > total. */
  | 'oversell'
  /** D: Redis sold != PostgreSQL's sold plus the undrained order events. */
  | 'sold_mismatch'
  /** Redis total != PostgreSQL's ledger total plus the undrained product and stock events. */
  | 'total_mismatch'
  /** PostgreSQL's ledger: the latest row's total is not the sum of the deltas. */
  | 'ledger_inconsistent'
  /** A product in PostgreSQL that Redis does not have. */
  | 'missing_in_redis'
  /** A captured, unrefunded charge with no order (in PostgreSQL or undrained) and no paying or confirmed hold. */
  | 'charge_without_order'
  /** An order whose charge is not captured, was refunded, or has no payment row (or another amount). */
  | 'order_without_payment'
  /**
   * An order PostgreSQL has without one of its parts, whose event is nowhere (not undrained) and whose hold in
   * that partition is not on its way (paying, confirmed): a Redis that went back in time lost that part's sale.
   */
  | 'order_incomplete'
  /** A hold still held (or a cart pending) more than one sweep interval past its deadline. */
  | 'hold_overdue'
  /** A hold still paying more than one sweep interval past its payment deadline. */
  | 'payment_overdue'
  /** An outbox entry parked: it failed to write for a reason no retry fixed. */
  | 'parked_entry'
  /** A partition fenced (Redis behind PostgreSQL, empty, or renumbered events): it grants nothing until repair or rebuild. */
  | 'fenced';

export interface Violation {
  kind: ViolationKind;
  sku?: string;
  reservation?: string;
  partition?: number;
  expected: number | string;
  found: number | string;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  violations: Violation[];
  checked: {
    partitions: number;
    skus: number;
    orders: number;
    /** Charge records at the provider (captured, declined, voided). */
    charges: number;
    /** Outbox entries not yet written through, and parked ones, over every partition. */
    outbox: number;
    parked: number;
  };
  /** Partitions whose outbox was too long to read whole: their SKUs' sold and total were not compared. */
  notCompared: number[];
  durationMs: number;
}

/** What /metrics shows of the last periodic verify (the verify sweep keeps it in Redis): violations by kind, the SKUs that drift most. */
export interface VerifySummary {
  ok: boolean;
  /** When the run ended (ms since the epoch). */
  at: number;
  durationMs: number;
  byKind: Partial<Record<ViolationKind, number>>;
  /** found - expected, for violations of a SKU's counts: the largest (by size) first. */
  drift: { sku: string; kind: ViolationKind; units: number }[];
  /** Fenced partitions (the first summaryDriftMax) and why. */
  fenced: { partition: number; reason: string }[];
}

/** SKUs a summary names at most (the rest are counted in byKind): a bound on /metrics' series. */
export const summaryDriftMax = 64;

export function verifySummary(report: VerifyReport, at = Date.now()): VerifySummary {
  const byKind: Partial<Record<ViolationKind, number>> = {};
  for (const v of report.violations) byKind[v.kind] = (byKind[v.kind] ?? 0) + 1;
  const drift = report.violations
    .filter((v) => v.sku !== undefined && typeof v.expected === 'number' && typeof v.found === 'number')
    .map((v) => ({ sku: v.sku!, kind: v.kind, units: (v.found as number) - (v.expected as number) }))
    .sort((a, b) => Math.abs(b.units) - Math.abs(a.units))
    .slice(0, summaryDriftMax);
  const fenced = report.violations.filter((v) => v.kind === 'fenced').slice(0, summaryDriftMax)
    .map((v) => ({ partition: v.partition!, reason: String(v.found) }));
  return { ok: report.ok, at, durationMs: report.durationMs, byKind, drift, fenced };
}

/** What verify learned of one SKU: repair decides from it. */
export interface SkuFacts {
  sku: string;
  partition: number;
  redis: Stock;
  /** PostgreSQL's figure plus the undrained events (null when the partition was not compared). */
  expectedTotal: number | null;
  expectedSold: number | null;
}

export interface Audit {
  report: VerifyReport;
  skus: Map<string, SkuFacts>;
}

/** The later of two stream ids ('<ms>-<seq>'); the first when the second is absent. */
function laterStreamId(a: string, b: string | undefined): string {
  if (!b) return a;
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return bm > am || (bm === am && (bs ?? 0) > (as ?? 0)) ? b : a;
}

/** Snapshots read at once: partitions are read this many at a time. */
const snapshotsInFlight = 8;

/**
 * `reconcile verify`: checks DESIGN.md §2 across Redis, PostgreSQL and the
 * payment provider, and names each violation. Reads only. Its cost is one
 * MULTI per partition (counts and outbox), one repeatable-read snapshot of
 * PostgreSQL (grouped sums, and every order's id and payment), one pass over
 * the provider's records, a look-up per capture without an order, and a few
 * range reads per partition for overdue holds.
 */
export async function verify(deps: VerifyDeps): Promise<VerifyReport> {
  return (await audit(deps)).report;
}

export async function audit(deps: VerifyDeps): Promise<Audit> {
  const started = Date.now();
  const { engine } = deps;
  // The provider first: a charge captured later is still paying in Redis, or its order is in the outbox or PostgreSQL.
  const charges = new Map<string, ChargeRecord>();
  for await (const record of deps.provider.charges()) charges.set(record.reservationId, record);
  const snapshots = await readSnapshots(engine);
  const entries = snapshots.flatMap((s) => [...s.outbox, ...s.parked]);
  const skuParts = snapshots.flatMap((s) => [...s.stock.keys()].map((sku) => ({ sku, partition: s.partition })));
  // A partition's cut is the last id its Redis gave, or PostgreSQL's marker when that is later: a Redis that went back
  // in time (an older AOF) lost those events, so PostgreSQL's whole written history is what its counts must match.
  const marks = await recordView(deps.sql).marks();
  const cutOf = (s: PartitionSnapshot) => laterStreamId(s.lastEventId, marks.get(s.partition)?.eventId.split(':')[1]);
  const store = await readStoreView(deps.sql, snapshots.map((s) => ({ partition: s.partition, lastEventId: cutOf(s) })), skuParts,
    entries.map((e) => e.eventId));
  const undrained = undrainedEffects(entries.filter((e) => !store.written.has(e.eventId)));
  const violations: Violation[] = [];
  const skus = checkSkus(snapshots, store, undrained, violations);
  await checkMoney(deps, charges, store, undrained.orders, violations);
  await checkParts(deps, charges, undrained.orders, violations);
  for (let p = 0; p < engine.settings.partitions; p++) violations.push(...overdueViolations(await engine.overdueHolds(p, engine.settings.sweepIntervalMs)));
  for (const s of snapshots) violations.push(...s.parked.map((e) => parkedViolation(s.partition, e)));
  for (const f of await engine.fences()) {
    if (f.fenced !== null) violations.push({ kind: 'fenced', partition: f.partition, expected: 'not fenced', found: f.fenced,
      detail: `partition ${f.partition} refuses holds, stock changes and payments: \`reconcile repair\` (Redis behind) or \`reconcile rebuild\` (empty)` });
  }
  const report: VerifyReport = {
    ok: violations.length === 0,
    violations,
    checked: {
      partitions: snapshots.length, skus: skus.size, orders: store.orders.length, charges: charges.size,
      outbox: sum(snapshots.map((s) => s.outboxLength)), parked: sum(snapshots.map((s) => s.parkedLength)),
    },
    notCompared: snapshots.filter((s) => s.truncated).map((s) => s.partition),
    durationMs: Date.now() - started,
  };
  return { report, skus };
}

async function readSnapshots(engine: Engine): Promise<PartitionSnapshot[]> {
  const snapshots: PartitionSnapshot[] = [];
  for (let first = 0; first < engine.settings.partitions; first += snapshotsInFlight) {
    const last = Math.min(first + snapshotsInFlight, engine.settings.partitions);
    snapshots.push(...await Promise.all(Array.from({ length: last - first }, (_, i) => engine.partitionSnapshot(first + i))));
  }
  return snapshots;
}

interface Undrained {
  total: Map<string, number>;
  sold: Map<string, number>;
  /** Reservations with an order event not written yet. */
  orders: Set<string>;
}

/** What the events Redis counted but PostgreSQL has not written yet add to PostgreSQL's figures. */
function undrainedEffects(entries: DecodedEntry[]): Undrained {
  const out: Undrained = { total: new Map(), sold: new Map(), orders: new Set() };
  const add = (m: Map<string, number>, sku: string, n: number) => m.set(sku, (m.get(sku) ?? 0) + n);
  for (const { event: e } of entries) {
    if (e?.t === 'product') add(out.total, e.sku, e.stock);
    else if (e?.t === 'stock') add(out.total, e.sku, e.delta);
    else if (e?.t === 'order') {
      out.orders.add(e.id);
      for (const line of e.lines) add(out.sold, line.sku, line.qty);
    }
  }
  return out;
}

function checkSkus(snapshots: PartitionSnapshot[], store: StoreView, undrained: Undrained, violations: Violation[]): Map<string, SkuFacts> {
  const facts = new Map<string, SkuFacts>();
  for (const snap of snapshots) {
    for (const [sku, s] of snap.stock) {
      const compared = !snap.truncated;
      const ledger = store.ledger.get(sku);
      const fact: SkuFacts = {
        sku, partition: snap.partition, redis: s,
        expectedTotal: compared ? (ledger?.total ?? 0) + (undrained.total.get(sku) ?? 0) : null,
        expectedSold: compared ? (store.sold.get(sku) ?? 0) + (undrained.sold.get(sku) ?? 0) : null,
      };
      facts.set(sku, fact);
      violations.push(...stockViolations(fact));
      if (ledger && !undrained.total.has(sku) && ledger.latestTotal !== ledger.total) {
        violations.push({ kind: 'ledger_inconsistent', sku, expected: ledger.total, found: ledger.latestTotal,
          detail: 'the latest ledger row\'s total is not the sum of the ledger\'s deltas' });
      }
    }
  }
  for (const sku of store.products) {
    if (!facts.has(sku)) violations.push({ kind: 'missing_in_redis', sku, expected: 'a product in Redis', found: 'none', detail: 'PostgreSQL has the product, Redis does not' });
  }
  return facts;
}

function stockViolations(f: SkuFacts): Violation[] {
  const { sku, redis: s } = f;
  const counts = `total ${s.total}, available ${s.available}, reserved ${s.reserved}, sold ${s.sold}`;
  const found: Violation[] = [];
  if (Math.min(s.total, s.available, s.reserved, s.sold) < 0) found.push({ kind: 'negative_count', sku, expected: '>= 0', found: counts, detail: 'a count below zero' });
  const parts = s.available + s.reserved + s.sold;
  if (parts !== s.total) found.push({ kind: 'conservation', sku, expected: s.total, found: parts, detail: `available + reserved + sold != total (${counts})` });
  if (s.sold > s.total) found.push({ kind: 'oversell', sku, expected: `<= ${s.total}`, found: s.sold, detail: 'more units sold than stocked' });
  if (f.expectedSold !== null && f.expectedSold !== s.sold) {
    found.push({ kind: 'sold_mismatch', sku, expected: f.expectedSold, found: s.sold, detail: 'Redis sold vs PostgreSQL\'s order items plus undrained order events' });
  }
  if (f.expectedTotal !== null && f.expectedTotal !== s.total) {
    found.push({ kind: 'total_mismatch', sku, expected: f.expectedTotal, found: s.total, detail: 'Redis total vs PostgreSQL\'s stock ledger plus undrained stock events' });
  }
  return found;
}

/** Every captured, unrefunded charge has its order (or is on its way to one); every order has its captured payment. */
async function checkMoney(deps: VerifyDeps, charges: Map<string, ChargeRecord>, store: StoreView, undrainedOrders: Set<string>,
  violations: Violation[]): Promise<void> {
  const ordered = new Set(store.orders.map((o) => o.reservationId));
  for (const c of charges.values()) {
    if (c.status !== 'captured' || c.refunded || ordered.has(c.reservationId) || undrainedOrders.has(c.reservationId)) continue;
    const hold = await deps.engine.inspectReservation(c.reservationId);
    if (hold?.status === 'paying' || hold?.status === 'confirmed') continue;
    violations.push({ kind: 'charge_without_order', reservation: c.reservationId, expected: 'an order', found: hold ? `a hold ${hold.status}` : 'no hold, no order',
      detail: `captured ${c.amountCents} cents (${c.reference}) for ${c.lines.map((l) => `${l.qty} x ${l.sku}`).join(', ')}` });
  }
  for (const o of store.orders) {
    const charge = charges.get(o.reservationId) ?? (await deps.provider.lookup(o.reservationId));
    const problem = !charge ? 'no charge' : charge.status !== 'captured' ? `a charge ${charge.status}` : charge.refunded ? 'a refunded charge'
      : !o.payment ? 'no payment row' : o.payment.amountCents !== charge.amountCents ? `a payment of ${o.payment.amountCents} cents` : null;
    if (problem) {
      violations.push({ kind: 'order_without_payment', reservation: o.reservationId, expected: `a captured charge${charge ? ` of ${charge.amountCents} cents` : ''}`,
        found: problem, detail: `order ${o.id}` });
    }
  }
}

/** Incomplete orders a verify names at most. */
const incompleteNamedMax = 1_000;

/** Every order PostgreSQL has is whole, or the parts it lacks are on their way (undrained, or paying or confirmed in Redis). */
async function checkParts(deps: VerifyDeps, charges: Map<string, ChargeRecord>, undrainedOrders: Set<string>, violations: Violation[]): Promise<void> {
  const { partitions } = deps.engine.settings;
  const incomplete = await incompleteOrders(deps.sql, incompleteNamedMax);
  if (incomplete.length === 0) return;
  let byOrderId = new Map([...charges.values()].flatMap((c) => (c.orderId ? [[c.orderId, c] as const] : [])));
  // Captured after the charges were listed (verify runs while a sale goes on): read again once, then by reservation.
  if (incomplete.some((o) => !o.reservationId && !byOrderId.has(o.id))) {
    byOrderId = new Map();
    for await (const c of deps.provider.charges()) if (c.orderId) byOrderId.set(c.orderId, c);
  }
  for (const o of incomplete) {
    const charge = o.reservationId ? (charges.get(o.reservationId) ?? (await deps.provider.lookup(o.reservationId)) ?? undefined) : byOrderId.get(o.id);
    const reservation = o.reservationId ?? charge?.reservationId;
    const expected = o.partCount === null ? 'its home part written (the order row)' : `${o.partCount} parts written`;
    if (!charge || !reservation) {
      violations.push({ kind: 'order_incomplete', ...(reservation ? { reservation } : {}), expected,
        found: `parts ${o.parts.join(', ')}, and no charge names its lines`, detail: `order ${o.id}` });
      continue;
    }
    if (undrainedOrders.has(reservation)) continue;
    const missing = [...new Set(charge.lines.map((l) => partitionOf(l.sku, partitions)))].filter((p) => !o.parts.includes(p));
    for (const p of missing) {
      const [status] = await deps.engine.holdStatusesAt(p, [reservation]);
      if (status === 'paying' || status === 'confirmed') continue;
      violations.push({ kind: 'order_incomplete', reservation, partition: p, expected,
        found: `parts ${o.parts.join(', ')}; the hold in partition ${p} is ${status ?? 'missing'}`, detail: `order ${o.id}` });
    }
  }
}

function overdueViolations(holds: Awaited<ReturnType<Engine['overdueHolds']>>): Violation[] {
  return holds.map((h) => ({
    kind: h.status === 'paying' ? 'payment_overdue' : 'hold_overdue',
    reservation: h.reservationId, partition: h.partition,
    expected: h.status === 'paying' ? `settled by ${iso(h.dueAtMs)}` : `expired by ${iso(h.dueAtMs)}`,
    found: `${h.status} at ${iso(h.nowMs)}`,
    detail: `${Math.round((h.nowMs - h.dueAtMs) / 1000)} s past its deadline`,
  }));
}

function parkedViolation(partition: number, e: DecodedEntry): Violation {
  const what = e.event ? `${e.event.t} event` : 'undecodable entry';
  return { kind: 'parked_entry', partition, ...(e.event && 'sku' in e.event ? { sku: e.event.sku } : {}),
    ...(e.event && 'id' in e.event ? { reservation: e.event.id } : {}),
    expected: 'written through', found: 'parked', detail: `${what} ${e.eventId}` };
}

const iso = (ms: number) => new Date(ms).toISOString();
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
