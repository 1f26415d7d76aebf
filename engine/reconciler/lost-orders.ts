import { StockadeError } from '../../common/errors.ts';
import type { Holds } from '../holds/holds.ts';
import { newOrderId, partitionOfId } from '../holds/ids.ts';
import type { EngineContext } from '../redis/context.ts';
import { partitionOf } from '../redis/partition.ts';
import { confirmRecord, type ConfirmRecordReply, type OrderPart } from '../redis/scripts/confirmRecord.ts';
import { restoreCartPart } from '../redis/scripts/restoreCartPart.ts';
import { restoreOrder, type LostOrder, type RestoreOrderReply } from '../redis/scripts/restoreOrder.ts';
import type { CommitOutcome, Line } from '../types.ts';

/**
 * Restoring the order of a lost capture: done (now or before), or why not. A
 * cart whose parts were restored while a partition is fenced waits, paying,
 * for the fence to lift (the overdue recovery then commits it, as after a
 * crash of the saga).
 */
export type RestoreOutcome = RestoreOrderReply | { kind: 'awaiting_fence'; partitions: number[] };

/**
 * Recreates the order of a capture that Redis and PostgreSQL both lost, from
 * the provider's record. A single-partition one in one script (restoreOrder).
 * A multi-partition cart as the saga would have made it, since no script may
 * span partitions: each part's units available -> reserved under a `paying`
 * record (the other parts first, the home part last), then the saga's commit,
 * home first, which appends the order events. A part whose units are gone
 * gives back the parts restored before it (compensated), and the caller
 * refunds: all or nothing, never below zero, never sold twice.
 */
export class LostOrders {
  constructor(private readonly ctx: EngineContext, private readonly holds: Holds) {}

  async restore(o: Omit<LostOrder, 'orderId'> & { orderId?: string }): Promise<RestoreOutcome> {
    if (o.lines.length === 0) throw new StockadeError('ASSERTION', `restoring ${o.reservationId}: a capture without lines`);
    const layout = cartLayout(o.reservationId, o.lines, this.ctx.settings.partitions);
    const order = { ...o, orderId: o.orderId ?? newOrderId() };
    if (layout.parts.length === 1) return restoreOrder(this.ctx, layout.home, order);
    return this.restoreCart(order, layout);
  }

  /**
   * One missing part of an order PostgreSQL has other parts of (the home part
   * too, whose event writes the order row): its units sold here (available ->
   * reserved -> sold, or reserved -> sold when its record still holds them) and
   * its order event appended, under the order's id.
   */
  async completePart(part: OrderPart & { amountCents: number; reference: string }): Promise<RestoreOutcome> {
    const out = await restoreCartPart(this.ctx, part);
    if (out.kind !== 'restored') return out;
    return committedOrAwaitingFence(() => this.holds.commitPart(part.partition, part.reservationId, part.orderId,
      { amountCents: part.amountCents, reference: part.reference, orderId: part.orderId }), [part.partition]);
  }

  /** Records an order part PostgreSQL has as confirmed in a fenced partition (confirmRecord-4.lua). */
  confirmRecord(part: OrderPart): Promise<ConfirmRecordReply> {
    return confirmRecord(this.ctx, part);
  }

  private async restoreCart(o: LostOrder, { home, parts, byPartition }: ReturnType<typeof cartLayout>): Promise<RestoreOutcome> {
    const restored: number[] = [];
    for (const partition of [...parts.slice(1), home]) {
      const out = await restoreCartPart(this.ctx, { reservationId: o.reservationId, userId: o.userId, partition,
        lines: byPartition.get(partition) ?? [], home: partition === home ? null : home, parts });
      if (out.kind !== 'restored') {
        await this.holds.compensateParts(o.reservationId, restored);
        return out;
      }
      restored.push(partition);
    }
    return committedOrAwaitingFence(() => this.holds.commit(o.reservationId,
      { amountCents: o.amountCents, reference: o.reference, orderId: o.orderId }), parts);
  }
}

/** A commit's outcome as a restore's: a fence that refuses the commit leaves the parts paying, for the recovery once it lifts. */
async function committedOrAwaitingFence(commit: () => Promise<CommitOutcome>, partitions: number[]): Promise<RestoreOutcome> {
  try {
    const out = await commit();
    return out.kind === 'confirmed' ? { kind: 'restored', orderId: out.orderId } : out;
  } catch (error) {
    if (error instanceof StockadeError && error.code === 'FENCED') return { kind: 'awaiting_fence', partitions };
    throw error;
  }
}

/**
 * How a cart's lines lie over its partitions: its home (the partition its id
 * names), every partition home first and the others ascending (as a reserve
 * orders them), and each partition's lines.
 */
export function cartLayout(reservationId: string, lines: Line[], partitions: number): { home: number; parts: number[]; byPartition: Map<number, Line[]> } {
  const home = partitionOfId(reservationId, partitions);
  if (home < 0) throw new StockadeError('ASSERTION', `${reservationId} is no reservation id`);
  const byPartition = new Map<number, Line[]>();
  for (const line of lines) {
    const p = partitionOf(line.sku, partitions);
    byPartition.set(p, [...byPartition.get(p) ?? [], line]);
  }
  const others = [...byPartition.keys()].filter((p) => p !== home).sort((x, y) => x - y);
  return { home, parts: [home, ...others], byPartition };
}
