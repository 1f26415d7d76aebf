import type { PaymentProvider } from '../checkout/payments.ts';
import { partitionOfId } from '../holds/ids.ts';
import type { EngineContext } from '../redis/context.ts';
import { partitionOf } from '../redis/partition.ts';
import { decodeRecord, type HoldRecord } from '../redis/records.ts';

/** Where a restarted redis-server's holds are compared with what was paid: the payment provider's recent captures. */
export type CaptureSource = Pick<PaymentProvider, 'capturedSince'>;

/** Hold records one read asks for at most (one HMGET per partition and page). */
const idsPerReadMax = 1_000;

/**
 * The captures since `sinceMs` whose hold a redis-server that restarted does
 * not account for, per partition of `partitions` (their reservation ids).
 * A capture is accounted for in a partition when its hold (or its part of a
 * cart) there is paying (the saga or the recovery commits it) or confirmed,
 * or was released by the saga itself (a void, decline or refund: the capture
 * is refunded by the saga's own path). Anything else (no record, held,
 * pending, expired, released by a client or a compensation) means the Redis
 * came back without the payment's start or its commit: a paid order it lost
 * (DESIGN.md §3), which `reconcile repair` recreates from the provider's record.
 */
export async function lostCaptures(ctx: EngineContext, source: CaptureSource, partitions: ReadonlySet<number>,
  sinceMs: number): Promise<Map<number, string[]>> {
  const byPartition = new Map<number, string[]>();
  for await (const charge of source.capturedSince(sinceMs)) {
    if (charge.status !== 'captured' || charge.refunded) continue;
    for (const p of partitionsOfCharge(charge.reservationId, charge.lines, ctx.settings.partitions)) {
      if (!partitions.has(p)) continue;
      const ids = byPartition.get(p) ?? [];
      ids.push(charge.reservationId);
      byPartition.set(p, ids);
    }
  }
  const lost = new Map<number, string[]>();
  for (const [partition, ids] of byPartition) {
    const missing: string[] = [];
    for (let at = 0; at < ids.length; at += idsPerReadMax) {
      const page = ids.slice(at, at + idsPerReadMax);
      const raws = await ctx.redis.hmget(ctx.keys.partition(partition).holds, ...page);
      raws.forEach((raw, i) => { if (!accountsForCapture(raw ? decodeRecord(raw) : null)) missing.push(page[i]!); });
    }
    if (missing.length > 0) lost.set(partition, missing);
  }
  return lost;
}

/** The partitions a charge's hold has a record in: its home (from the id) and each line's. */
function partitionsOfCharge(reservationId: string, lines: { sku: string }[], partitions: number): Set<number> {
  const out = new Set(lines.map((line) => partitionOf(line.sku, partitions)));
  const home = partitionOfId(reservationId, partitions);
  if (home >= 0) out.add(home);
  return out;
}

function accountsForCapture(record: HoldRecord | null): boolean {
  if (!record) return false;
  if (record.status === 'paying' || record.status === 'confirmed') return true;
  return record.status === 'released' && (record.reason === 'voided' || record.reason === 'declined' || record.reason === 'refunded');
}
