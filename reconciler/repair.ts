import { StockadeError } from '../common/errors.ts';
import type { ChargeRecord, Checkout, OverdueRecovery, PaymentProvider } from '../engine/index.ts';
import { retryParkedEntries } from '../workers/writethrough.ts';
import { completeOrders, confirmWrittenOrders } from './rolled-back.ts';
import { audit, type ChargeLedger, type SkuFacts, type VerifyDeps, type VerifyReport, type Violation } from './verify.ts';

export interface RepairDeps extends VerifyDeps {
  provider: ChargeLedger & Pick<PaymentProvider, 'refund'>;
  checkout: Checkout;
  recovery: OverdueRecovery;
}

export type RepairActionKind =
  | 'redrive_parked' | 'finish_payments' | 'restore_order' | 'commit_capture' | 'refund_capture' | 'reset_counts'
  /** In a fenced partition, holds whose orders PostgreSQL has recorded as confirmed; a part an order lacks sold and written. */
  | 'confirm_records' | 'complete_order'
  /** A fenced partition's counts set to PostgreSQL's (its Redis went back in time), and its fence lifted once the stores agree. */
  | 'align_counts' | 'lift_fence'
  /** A violation repair does not fix (it says why, and what would). */
  | 'left';

export interface RepairAction {
  kind: RepairActionKind;
  sku?: string;
  reservation?: string;
  partition?: number;
  detail: string;
}

export interface RepairReport {
  actions: RepairAction[];
  /** verify after the repair. */
  after: VerifyReport;
}

/** Recovery passes one repair makes at most (each settles up to recoveryHoldsMax holds per partition). */
const recoveryPassesMax = 100;
/** Parked entries one repair writes per partition at most (a page at a time). */
const parkedPageMax = 1_000;
const parkedPagesMax = 100;

const refundReason = 'captured, but no hold can honour it (its units are gone)';
/** How long repair waits for write-through to drain a fenced partition's outbox before it lifts the fence (a bound on one run, not a setting). */
const drainWaitMs = 30_000;
const drainPollMs = 100;

/**
 * `reconcile repair`: fixes what can be fixed without guessing, and reports
 * each action. In order: parked outbox entries are written again; payments
 * stuck in `paying` past their deadline are settled from the provider's record
 * (the overdue recovery, until nothing is left); each captured charge without
 * an order is committed (its hold is still held), refunded (its hold was
 * released or expired), or its order recreated from the provider's record
 * (Redis and PostgreSQL lost it: units available -> sold with its order event,
 * in one script; refunded instead when its units are no longer available);
 * then counters that break conservation are set again from what the other
 * figures prove. A partition fenced because its Redis went back in time (an
 * older AOF, a lagging replica) first has its counts set to PostgreSQL's (plus
 * the undrained events; reserved from its live holds), after the holds whose
 * orders PostgreSQL has are recorded as confirmed there (so that no resend,
 * recovery or expiry of them counts their units again), and before any lost
 * order is recreated there; a part an order in PostgreSQL lacks is sold and
 * written again under the order's id (from the provider's lines), and last its fence is lifted once write-through has
 * drained it and the stores agree (engine.liftFence checks); payments that
 * waited for the fence are settled then. An empty partition is rebuild's.
 * Every step is idempotent: running repair twice does nothing the second time.
 */
export async function repair(deps: RepairDeps): Promise<RepairReport> {
  const actions: RepairAction[] = [];
  // Due holds expired first: a capture whose hold is past its deadline is then judged by the hold's real end (expired).
  // Best effort: a fenced partition refuses the sweep until repair has aligned it; its holds are judged as they read.
  await deps.engine.sweepOnce().catch(() => {});
  const behind = new Set((await deps.engine.fences()).filter((f) => f.fenced !== null && f.fenced !== 'empty').map((f) => f.partition));
  await redriveParked(deps, actions);
  await finishPayments(deps, actions);
  await confirmWrittenOrders(deps, actions, behind);
  await alignFenced(deps, actions, behind);
  const before = await audit(deps);
  const captures = before.report.violations.filter((v) => v.kind === 'charge_without_order').map((v) => v.reservation!);
  let waiting = await settleCaptures(deps, actions, captures);
  actions.push(...await completeOrders(deps, before.report.violations));
  const counters = await audit(deps);
  actions.push(...await resetCounters(deps, counters.report.violations, counters.skus));
  if (await liftFences(deps, actions, behind)) {
    await finishPayments(deps, actions);
    waiting = await settleCaptures(deps, actions, waiting);
  }
  for (const id of waiting) actions.push({ kind: 'left', reservation: id, detail: 'its hold\'s partition is still fenced: the next repair settles its capture' });
  const after = await audit(deps);
  const saidLeft = new Set(actions.filter((a) => a.kind === 'left').map((a) => a.reservation ?? a.sku));
  for (const v of after.report.violations) if (!saidLeft.has(v.reservation ?? v.sku)) actions.push(leftFor(v));
  return { actions, after: after.report };
}

async function redriveParked(deps: RepairDeps, actions: RepairAction[]): Promise<void> {
  const lengths = await deps.engine.outbox.parkedLengths();
  for (const [partition, length] of lengths.entries()) {
    if (length === 0) continue;
    let written = 0;
    let reason: string | null = null;
    let after: string | null = null;
    for (let page = 0; page < parkedPagesMax; page++) {
      const entries = await deps.engine.outbox.readParked(partition, after, parkedPageMax);
      if (entries.length === 0) break;
      const r = await retryParkedEntries(deps.engine, deps.sql, partition, entries);
      written += r.written;
      reason ??= r.reason;
      after = entries.at(-1)!.streamId;
    }
    actions.push({ kind: 'redrive_parked', partition,
      detail: `${written} of ${length} parked entries written${reason ? `; the others still fail: ${reason}` : ''}` });
  }
}

async function finishPayments(deps: RepairDeps, actions: RepairAction[]): Promise<void> {
  const total = { committed: 0, released: 0, refunded: 0, failed: 0 };
  for (let pass = 0; pass < recoveryPassesMax; pass++) {
    const r = await deps.recovery.recoverOverdue();
    total.committed += r.committed;
    total.released += r.released;
    total.refunded += r.refunded;
    total.failed += r.failed;
    if (r.committed + r.released + r.refunded === 0) break;
  }
  if (total.committed + total.released + total.refunded + total.failed > 0) {
    actions.push({ kind: 'finish_payments', detail: `overdue payments: ${total.committed} committed, ${total.released} released, `
      + `${total.refunded} refunded, ${total.failed} failed (the next repair tries them again)` });
  }
}

/**
 * Settles each capture (settleCapture); returns those whose hold's partition
 * refused a step because it is fenced (a held hold's payment start or commit):
 * they are settled once repair has lifted the fence.
 */
async function settleCaptures(deps: RepairDeps, actions: RepairAction[], ids: string[]): Promise<string[]> {
  const fenced: string[] = [];
  for (const id of ids) {
    try {
      const action = await settleCapture(deps, id);
      if (action) actions.push(action);
    } catch (error) {
      if (!(error instanceof StockadeError && error.code === 'FENCED')) throw error;
      fenced.push(id);
    }
  }
  return fenced;
}

/** A captured, unrefunded charge with no order and no paying or confirmed hold (null: one on its way to its order since). */
async function settleCapture(deps: RepairDeps, id: string): Promise<RepairAction | null> {
  const charge = await deps.provider.lookup(id);
  if (charge?.status !== 'captured' || charge.refunded) return { kind: 'left', reservation: id, detail: 'its charge is no longer an unrefunded capture' };
  const hold = await deps.engine.inspectReservation(id);
  if (hold?.status === 'paying' || hold?.status === 'confirmed') return null;
  if (hold?.status === 'held') {
    const begun = await deps.engine.beginPayment(id);
    if (begun.kind === 'paying') {
      const out = await deps.engine.commit(id, { amountCents: charge.amountCents, reference: charge.reference, orderId: charge.orderId });
      if (out.kind === 'confirmed') return { kind: 'commit_capture', reservation: id, detail: `hold held with its capture: committed as order ${out.orderId}` };
    }
  }
  if (hold && hold.status !== 'held') {
    // Ended without its payment in this Redis (it lost the payment's start with its data): recreated as a lost order
    // when its units are still there, else refunded. A hold the saga released after a void stands (left: refunded below).
    const out = await restoreOrRefund(deps, charge);
    if (out.kind !== 'left') return out;
  }
  if (hold) {
    // Released, expired (or it expired just now): the saga's own path for a capture no hold honours.
    if (await deps.checkout.recheckVoid(id)) return { kind: 'refund_capture', reservation: id, detail: `its hold is ${hold.status}: ${charge.amountCents} cents refunded` };
    return { kind: 'left', reservation: id, detail: `its hold is ${hold.status}; the capture was not refunded` };
  }
  return restoreOrRefund(deps, charge);
}

/** Redis and PostgreSQL both lost it: recreate the order from the provider's record, or refund when its units are gone. */
async function restoreOrRefund(deps: RepairDeps, charge: ChargeRecord): Promise<RepairAction> {
  const id = charge.reservationId;
  const out = await deps.engine.restoreLostOrder({ reservationId: id, userId: charge.userId ?? '', amountCents: charge.amountCents,
    reference: charge.reference, lines: charge.lines, ...(charge.orderId ? { orderId: charge.orderId } : {}) });
  const lines = charge.lines.map((l) => `${l.qty} x ${l.sku}`).join(', ');
  if (out.kind === 'restored') return { kind: 'restore_order', reservation: id, detail: `order ${out.orderId} recreated (${lines}), units available -> sold` };
  if (out.kind === 'units_gone' || out.kind === 'no_product') {
    const { record } = await deps.provider.refund(id);
    await deps.engine.recordRefund(id, { amountCents: charge.amountCents, reference: `re_${record.reference}`, reason: refundReason });
    const why = out.kind === 'units_gone' ? `${out.sku} has ${out.available} available` : `${out.sku} is no product`;
    return { kind: 'refund_capture', reservation: id, sku: out.sku, detail: `no hold can honour it (${why}): ${charge.amountCents} cents refunded` };
  }
  if (out.kind === 'awaiting_fence') {
    return { kind: 'restore_order', reservation: id, detail: `cart (${lines}) restored on partitions ${out.partitions.join(', ')}, paying: `
      + 'committed once the fence lifts (the overdue recovery, or the next repair)' };
  }
  return { kind: 'left', reservation: id, detail: `a hold record stands under its id (${out.kind})` };
}

/**
 * A SKU that breaks C (or has a count below zero) while its total and sold
 * agree with PostgreSQL (plus undrained events) is set again: reserved from its
 * live hold records, available = total - reserved - sold, when that is not
 * negative, and only if its counts did not move meanwhile. Nothing else is
 * inferred: a SKU whose total or sold disagree is left (rebuild, or an operator).
 */
async function resetCounters(deps: RepairDeps, violations: Violation[], skus: Map<string, SkuFacts>): Promise<RepairAction[]> {
  const broken = new Set(violations.filter((v) => v.kind === 'conservation' || v.kind === 'negative_count').map((v) => v.sku!));
  const actions: RepairAction[] = [];
  const reservedOf = new Map<number, Map<string, number>>();
  for (const sku of broken) {
    const f = skus.get(sku)!;
    const s = f.redis;
    if (f.expectedTotal !== s.total || f.expectedSold !== s.sold || s.total < 0 || s.sold < 0) continue; // left: reported after
    if (!reservedOf.has(f.partition)) reservedOf.set(f.partition, await deps.engine.reservedByHolds(f.partition));
    const reserved = reservedOf.get(f.partition)!.get(sku) ?? 0;
    const available = s.total - reserved - s.sold;
    if (available < 0) continue;
    const out = await deps.engine.resetCounts(sku, s, { available, reserved });
    actions.push(out.kind === 'set'
      ? { kind: 'reset_counts', sku, detail: `available ${s.available} -> ${available}, reserved ${s.reserved} -> ${reserved} `
        + `(total ${s.total} and sold ${s.sold} agree with PostgreSQL; reserved from the live holds)` }
      : { kind: 'left', sku, detail: `its counts ${out.kind === 'changed' ? 'moved meanwhile: run repair again' : 'are gone'}` });
  }
  return actions;
}

/**
 * A partition whose Redis went back in time: each SKU's total and sold set to
 * PostgreSQL's plus the undrained events (the system of record), reserved to
 * what its live holds reserve, available to the rest. Nothing is granted in a
 * fenced partition meanwhile, and the script sets nothing if the counts moved.
 */
async function alignFenced(deps: RepairDeps, actions: RepairAction[], behind: Set<number>): Promise<void> {
  if (behind.size === 0) return;
  const { skus } = await audit(deps);
  const reservedOf = new Map<number, Map<string, number>>();
  for (const f of skus.values()) {
    if (!behind.has(f.partition) || f.expectedTotal === null || f.expectedSold === null) continue;
    const s = f.redis;
    if (f.expectedTotal === s.total && f.expectedSold === s.sold) continue;
    if (!reservedOf.has(f.partition)) reservedOf.set(f.partition, await deps.engine.reservedByHolds(f.partition));
    const reserved = reservedOf.get(f.partition)!.get(f.sku) ?? 0;
    const available = f.expectedTotal - reserved - f.expectedSold;
    if (available < 0) {
      actions.push({ kind: 'left', sku: f.sku, detail: `fenced partition ${f.partition}: live holds reserve ${reserved} of the ${f.expectedTotal - f.expectedSold} `
        + 'units PostgreSQL has not sold: release some holds (or let them expire), then repair again' });
      continue;
    }
    const out = await deps.engine.resetCounts(f.sku, s, { available, reserved, total: f.expectedTotal, sold: f.expectedSold });
    actions.push(out.kind === 'set'
      ? { kind: 'align_counts', sku: f.sku, partition: f.partition, detail: `to PostgreSQL's: total ${s.total} -> ${f.expectedTotal}, `
        + `sold ${s.sold} -> ${f.expectedSold}, reserved ${s.reserved} -> ${reserved} (live holds), available ${s.available} -> ${available}` }
      : { kind: 'left', sku: f.sku, detail: `its counts ${out.kind === 'changed' ? 'moved meanwhile: run repair again' : 'are gone'}` });
  }
}

/** Lifts the fence of each partition once write-through has drained it and the stores agree; true when one was lifted. */
async function liftFences(deps: RepairDeps, actions: RepairAction[], behind: Set<number>): Promise<boolean> {
  let lifted = false;
  for (const partition of behind) {
    const deadline = Date.now() + drainWaitMs;
    // Stream lengths alone (XLEN), not a snapshot that reads the entries: this polls.
    for (;;) {
      // Parked entries do not drain by waiting (redriveParked wrote those it could): liftFence names them.
      const outbox = await deps.engine.outbox.outboxLengths();
      if (outbox[partition] === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, drainPollMs));
    }
    const out = await deps.engine.liftFence(partition);
    if (out.kind === 'lifted') lifted = true;
    actions.push(out.kind === 'lifted'
      ? { kind: 'lift_fence', partition, detail: 'Redis and PostgreSQL agree: the fence is lifted, the partition grants again' }
      : { kind: 'left', partition, detail: `still fenced: ${out.differences.join('; ')}` });
  }
  return lifted;
}

/** What repair does not fix, and what would. */
function leftFor(v: Violation): RepairAction {
  const what: Partial<Record<Violation['kind'], string>> = {
    conservation: 'total or sold disagree with PostgreSQL, or available would go below zero: `reconcile rebuild` or an operator',
    negative_count: 'total or sold disagree with PostgreSQL: `reconcile rebuild` or an operator',
    sold_mismatch: 'Redis sold disagrees with PostgreSQL beyond the undrained events: `reconcile rebuild`',
    total_mismatch: 'Redis total disagrees with the stock ledger beyond the undrained events: `reconcile rebuild`',
    missing_in_redis: '`reconcile rebuild` restores products from PostgreSQL',
    parked_entry: 'still fails to write: see the reason in the logs; repair writes it again once fixed',
    hold_overdue: 'the sweeps expire it (`reconcile expire` now)',
    payment_overdue: 'the overdue recovery failed on it: see the logs; the next repair tries again',
    fenced: 'an empty partition: `reconcile rebuild`; behind PostgreSQL: see the actions above, then repair again',
    order_incomplete: 'see the actions above (a part whose units are gone is refunded by hand)',
  };
  return { kind: 'left', ...(v.sku ? { sku: v.sku } : {}), ...(v.reservation ? { reservation: v.reservation } : {}),
    ...(v.partition !== undefined ? { partition: v.partition } : {}),
    detail: `${v.kind}: ${what[v.kind] ?? 'not repaired'} (expected ${v.expected}, found ${v.found})` };
}
