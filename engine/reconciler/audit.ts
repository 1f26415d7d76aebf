import type { EngineContext } from '../redis/context.ts';
import { decodeEntries, type DecodedEntry, type RawEntry } from '../redis/outbox-events.ts';
import type { OutboxStreams } from '../redis/outbox-streams.ts';
import { partitionOf } from '../redis/partition.ts';
import { decodeRecord } from '../redis/records.ts';
import { resetCounts, type NextCounts, type ResetCountsReply } from '../redis/scripts/resetCounts.ts';
import type { Stock } from '../types.ts';

/** Outbox (and parked) entries one snapshot reads per partition at most; a longer outbox is reported as not compared. */
export const snapshotEntriesMax = 100_000;
/** Hold records one HSCAN step reads (the reserved units of live holds). */
const scanCount = 1_000;
/** Overdue holds one audit names per partition at most. */
export const overdueNamedMax = 100;

/** One partition as it stood at one instant (read in one MULTI): its SKUs' counts, its undrained and parked events. */
export interface PartitionSnapshot {
  partition: number;
  stock: Map<string, Stock>;
  outbox: DecodedEntry[];
  parked: DecodedEntry[];
  outboxLength: number;
  parkedLength: number;
  /** The last stream id the outbox ever gave ('0-0' none): every event of this partition at or before it is counted in `stock`. */
  lastEventId: string;
  /** The outbox or parked stream was longer than snapshotEntriesMax: its events were not all read. */
  truncated: boolean;
}

/** A hold past its deadline (or a payment past its deadline) by more than the lateness asked for. */
export interface OverdueHold {
  reservationId: string;
  partition: number;
  status: 'held' | 'pending' | 'paying';
  dueAtMs: number;
  nowMs: number;
}

const countField = { t: 'total', a: 'available', r: 'reserved', s: 'sold' } as const;

/** Read-side and repair-side steps of the reconciler over Redis (engine.ts exposes them as methods). */
export class Audit {
  constructor(private readonly ctx: EngineContext, private readonly outbox: OutboxStreams) {}

  async snapshot(partition: number): Promise<PartitionSnapshot> {
    const k = this.ctx.keys.partition(partition);
    const replies = (await this.ctx.redis.multi()
      .hgetall(k.skus)
      .xrangeBuffer(k.outbox, '-', '+', 'COUNT', snapshotEntriesMax)
      .xrangeBuffer(k.parked, '-', '+', 'COUNT', snapshotEntriesMax)
      .xlen(k.outbox)
      .xlen(k.parked)
      .xinfo('STREAM', k.outbox)
      .exec()) ?? [];
    const value = (i: number) => {
      const [error, v] = replies[i] ?? [new Error('no reply')];
      if (error && i !== 5) throw error; // XINFO fails on a partition that never had an outbox: nothing was ever appended
      return error ? null : v;
    };
    const outbox = decodeEntries(partition, value(1) as RawEntry[]);
    const parked = decodeEntries(partition, value(2) as RawEntry[], 'parked');
    const outboxLength = Number(value(3));
    const parkedLength = Number(value(4));
    return {
      partition, stock: stockOf(value(0) as Record<string, string>), outbox, parked, outboxLength, parkedLength,
      lastEventId: lastGeneratedId(value(5)),
      truncated: outbox.length < outboxLength || parked.length < parkedLength,
    };
  }

  /**
   * Holds of a partition still `held`/`pending` more than lateByMs past their
   * deadline (the due index names them; each record is read to make sure), and
   * holds `paying` more than lateByMs past their payment deadline. At most
   * overdueNamedMax of each.
   */
  async overdue(partition: number, lateByMs: number): Promise<OverdueHold[]> {
    const k = this.ctx.keys.partition(partition);
    const nowMs = await this.outbox.clockMs(partition);
    const cutoff = nowMs - lateByMs;
    const found: OverdueHold[] = [];
    const paying = await this.ctx.redis.zrangebyscore(k.paying, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, overdueNamedMax);
    for (let i = 0; i < paying.length; i += 2) {
      found.push({ reservationId: paying[i]!, partition, status: 'paying', dueAtMs: Number(paying[i + 1]), nowMs });
    }
    const lateSkus = await this.ctx.redis.zrangebyscore(k.due, '-inf', cutoff, 'LIMIT', 0, overdueNamedMax);
    const ids = new Set<string>();
    for (const sku of lateSkus) {
      // Members '<sku>\x1f<deadline, 15 digits>\x1f<ids>' (lua/includes/expire.lua), in deadline order per sku.
      const members = await this.ctx.redis.zrangebylex(k.dueHolds, `[${sku}\x1f`, `(${sku}\x1f${String(cutoff).padStart(15, '0')}`,
        'LIMIT', 0, overdueNamedMax);
      for (const m of members) for (const id of m.split('\x1f')[2]!.split(',')) if (id) ids.add(id);
    }
    const list = [...ids].slice(0, overdueNamedMax);
    const raws = list.length > 0 ? await this.ctx.redis.hmget(k.holds, ...list) : [];
    raws.forEach((raw, i) => {
      if (!raw) return;
      const rec = decodeRecord(raw);
      if ((rec.status === 'held' || rec.status === 'pending') && rec.expiresAtMs < cutoff) {
        found.push({ reservationId: list[i]!, partition, status: rec.status, dueAtMs: rec.expiresAtMs, nowMs });
      }
    });
    return found;
  }

  /** Units of each SKU of the partition that its live holds (held, pending, paying) reserve, from their records. */
  async reservedByHolds(partition: number): Promise<Map<string, number>> {
    const key = this.ctx.keys.partition(partition).holds;
    const reserved = new Map<string, number>();
    let cursor = '0';
    do {
      const [next, flat] = await this.ctx.redis.hscan(key, cursor, 'COUNT', scanCount);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        const raw = flat[i]!;
        if (!/^(2\x1f)?(held|pending|paying)\x1f/.test(raw)) continue; // other states and operation replies hold nothing
        for (const line of decodeRecord(raw).lines) reserved.set(line.sku, (reserved.get(line.sku) ?? 0) + line.qty);
      }
    } while (cursor !== '0');
    return reserved;
  }

  /** Sets available and reserved of a SKU, unless its counts moved since `read`. */
  resetCounts(sku: string, read: Stock, next: NextCounts): Promise<ResetCountsReply> {
    return resetCounts(this.ctx, partitionOf(sku, this.ctx.settings.partitions), sku, read, next);
  }
}

/** A partition's skus hash ('<sku>:<t|a|r|s|n|p|l>' fields) as counts per SKU. */
function stockOf(hash: Record<string, string>): Map<string, Stock> {
  const stock = new Map<string, Stock>();
  for (const [field, value] of Object.entries(hash)) {
    const at = field.lastIndexOf(':');
    const name = countField[field.slice(at + 1) as keyof typeof countField];
    if (!name) continue;
    const sku = field.slice(0, at);
    const s = stock.get(sku) ?? { total: 0, available: 0, reserved: 0, sold: 0 };
    s[name] = Number(value);
    stock.set(sku, s);
  }
  return stock;
}

/** XINFO STREAM's last-generated-id, or '0-0'. */
function lastGeneratedId(info: unknown): string {
  if (!Array.isArray(info)) return '0-0';
  const at = info.indexOf('last-generated-id');
  return at >= 0 ? String(info[at + 1]) : '0-0';
}
