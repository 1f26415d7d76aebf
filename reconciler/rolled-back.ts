import { cartLayout, type ChargeRecord } from '../engine/index.ts';
import { writtenParts } from '../store/order-parts.ts';
import type { RepairAction, RepairDeps } from './repair.ts';
import type { Violation } from './verify.ts';

/** Order parts one repair looks at per fenced partition at most (the records of a day, for a busy partition). */
const writtenPartsMax = 1_000_000;
/** How far back PostgreSQL's order parts are looked at: as long as Redis keeps a hold's record, and an hour more. */
const recordsWithinMs = (deps: RepairDeps) => deps.engine.settings.idempotencyRetentionMs + 2 * 3_600_000;

/**
 * In each partition whose Redis went back in time: every hold whose order part
 * PostgreSQL wrote is recorded as confirmed (missing, still held or paying, or
 * ended since without its payment in the rolled-back Redis), before the counts
 * are set to PostgreSQL's. Its units are then sold (PostgreSQL's count) and no
 * longer reserved or available, so no later commit, resend or expiry of that
 * hold counts them again.
 */
export async function confirmWrittenOrders(deps: RepairDeps, actions: RepairAction[], behind: Set<number>): Promise<void> {
  if (behind.size === 0) return;
  const { partitions } = deps.engine.settings;
  // A part written before its home part has no order row yet: its reservation is found by the order id the provider keeps.
  const byOrderId = new Map<string, ChargeRecord>();
  for await (const c of deps.provider.charges()) if (c.orderId) byOrderId.set(c.orderId, c);
  for (const partition of behind) {
    let confirmed = 0;
    for await (const page of writtenParts(deps.sql, partition, recordsWithinMs(deps), writtenPartsMax)) {
      const known = page.flatMap((w) => {
        const charge = byOrderId.get(w.orderId);
        const reservationId = w.reservationId ?? charge?.reservationId;
        return reservationId ? [{ ...w, reservationId, userId: w.userId ?? charge?.userId ?? '', lines: charge?.lines ?? [] }] : [];
      });
      const statuses = await deps.engine.holdStatusesAt(partition, known.map((w) => w.reservationId));
      for (const [i, w] of known.entries()) {
        if (statuses[i] === 'confirmed') continue;
        const { home, parts, byPartition } = cartLayout(w.reservationId, w.lines, partitions);
        const out = await deps.engine.confirmRecord({ reservationId: w.reservationId, orderId: w.orderId, userId: w.userId, partition,
          home: home === partition ? null : home, parts: parts.length > 1 ? parts : [], lines: byPartition.get(partition) ?? [] });
        if (out.kind === 'confirmed') confirmed += 1;
      }
    }
    if (confirmed > 0) {
      actions.push({ kind: 'confirm_records', partition, detail: `${confirmed} holds whose orders PostgreSQL has recorded as confirmed `
        + '(this Redis had them missing, live, or ended without their payment)' });
    }
  }
}

/** Each part of an order PostgreSQL has without it: sold in its partition under the order's id, its event appended. */
export async function completeOrders(deps: RepairDeps, violations: Violation[]): Promise<RepairAction[]> {
  const actions: RepairAction[] = [];
  const { partitions } = deps.engine.settings;
  for (const v of violations) {
    if (v.kind !== 'order_incomplete' || v.partition === undefined) continue;
    const id = v.reservation!;
    const charge = await deps.provider.lookup(id);
    if (!charge?.orderId) {
      actions.push({ kind: 'left', reservation: id, partition: v.partition, detail: 'order_incomplete: its charge does not name its order' });
      continue;
    }
    const { home, parts, byPartition } = cartLayout(id, charge.lines, partitions);
    const lines = byPartition.get(v.partition) ?? [];
    const out = await deps.engine.completeOrderPart({ reservationId: id, orderId: charge.orderId, userId: charge.userId ?? '',
      partition: v.partition, home: home === v.partition ? null : home, parts: parts.length > 1 ? parts : [], lines,
      amountCents: charge.amountCents, reference: charge.reference });
    const what = lines.map((l) => `${l.qty} x ${l.sku}`).join(', ');
    actions.push(out.kind === 'restored'
      ? { kind: 'complete_order', reservation: id, partition: v.partition, detail: `part ${v.partition} of order ${out.orderId} (${what}) sold and written` }
      : out.kind === 'awaiting_fence'
        ? { kind: 'complete_order', reservation: id, partition: v.partition, detail: `part ${v.partition} (${what}) paying: committed once the fence lifts` }
        : { kind: 'left', reservation: id, partition: v.partition, detail: `order_incomplete: part ${v.partition} (${what}) not restored `
          + `(${out.kind === 'units_gone' ? `${out.sku} has ${out.available} available` : out.kind}): refund that part by hand` });
  }
  return actions;
}
