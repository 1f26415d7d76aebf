import type { EngineContext } from './context.ts';
import { decodeEntries, type DecodedEntry, type RawEntry } from './outbox-events.ts';
import type { PartitionKeys } from './keys.ts';
import { parkEntries } from './scripts/parkEntries.ts';
import { perPartition } from './per-partition.ts';

/**
 * A partition's outbox as write-through sees it: read entries in order, trim
 * the written ones, park one that cannot be written (moved to the partition's
 * parked stream with its reason), and read, retry and unpark the parked ones.
 */
export class OutboxStreams {
  constructor(private readonly ctx: EngineContext) {}

  /** Up to countMax outbox entries, oldest first. */
  async read(partition: number, countMax: number): Promise<DecodedEntry[]> {
    return decodeEntries(partition, await this.range(this.keys(partition).outbox, '-', countMax));
  }

  /** Deletes written entries from the outbox. */
  async trim(partition: number, entries: DecodedEntry[]): Promise<void> {
    await this.ctx.redis.xdel(this.keys(partition).outbox, ...entries.map((e) => e.streamId));
  }

  /** Moves an outbox entry to the parked stream with the reason; false when it was not in the outbox (parked before). */
  async park(partition: number, entry: DecodedEntry, reason: string): Promise<boolean> {
    return parkEntries(this.ctx, partition, entry.streamId, reason);
  }

  /** Up to countMax parked entries after `afterId` (from the first when null), in the order they were parked. */
  async readParked(partition: number, afterId: string | null, countMax: number): Promise<DecodedEntry[]> {
    const raw = await this.range(this.keys(partition).parked, afterId === null ? '-' : `(${afterId}`, countMax);
    return decodeEntries(partition, raw, 'parked');
  }

  /** Deletes a parked entry once it is written. */
  async unpark(partition: number, entry: DecodedEntry): Promise<void> {
    await this.ctx.redis.xdel(this.keys(partition).parked, entry.streamId);
  }

  /**
   * Starts the wait before the partition's parked entries are retried again,
   * unless one is running; true when it started one (none ran within waitMs).
   */
  async startParkedWait(partition: number, waitMs: number): Promise<boolean> {
    return (await this.ctx.redis.set(this.keys(partition).parkedRetry, '1', 'PX', waitMs, 'NX')) === 'OK';
  }

  /** True when the partition has parked entries and their wait is over: the caller retries them now (and the next wait starts). */
  async claimParkedRetry(partition: number, waitMs: number): Promise<boolean> {
    if ((await this.ctx.redis.xlen(this.keys(partition).parked)) === 0) return false;
    return this.startParkedWait(partition, waitMs);
  }

  /** Of these partitions (ones with parked entries), those whose wait before the next retry is over. */
  async parkedRetryDue(partitions: number[]): Promise<number[]> {
    const waiting = await Promise.all(partitions.map((p) => this.ctx.redis.exists(this.keys(p).parkedRetry).catch(() => null)));
    return partitions.filter((_, i) => waiting[i] === 0);
  }

  /** The scripts' clock of a partition (Redis TIME plus its clock_offset_ms): the clock an event's `at` was read from. */
  async clockMs(partition: number): Promise<number> {
    const [[seconds, micros], offset] = await Promise.all([this.ctx.redis.time(), this.ctx.redis.hget(this.keys(partition).meta, 'clock_offset_ms')]);
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + Number(offset ?? 0);
  }

  private keys(partition: number) {
    return this.ctx.keys.partition(partition);
  }

  private async range(key: string, start: string, countMax: number): Promise<RawEntry[]> {
    return (await this.ctx.redis.xrangeBuffer(key, start, '+', 'COUNT', countMax)) as unknown as RawEntry[];
  }

  /** Outbox entries not yet written through, per partition (a failed read counts 0). */
  outboxLengths(): Promise<number[]> {
    return this.streamLengths((k) => k.outbox);
  }

  /** Parked outbox entries (failed for good, retried from time to time), per partition (a failed read counts 0). */
  parkedLengths(): Promise<number[]> {
    return this.streamLengths((k) => k.parked);
  }

  /** Outbox entries not yet written through, over every partition. */
  async backlog(): Promise<number> {
    return sum(await this.outboxLengths());
  }

  /** Parked outbox entries, over every partition. */
  async parked(): Promise<number> {
    return sum(await this.parkedLengths());
  }

  private async streamLengths(keyOf: (k: PartitionKeys) => string): Promise<number[]> {
    return perPartition(this.ctx.settings.partitions, (p) => this.ctx.redis.xlen(keyOf(this.ctx.keys.partition(p))).catch(() => 0));
  }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
