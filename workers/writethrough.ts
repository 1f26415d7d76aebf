import { Queue, Worker, type Job } from 'bullmq';
import { crashPoint } from '../common/crash-points.ts';
import { type Engine, type Logger, requireDecoded, type DecodedEntry } from '../engine/index.ts';
import { bullConnection, closeBull } from './bull.ts';
import type { Sql } from '../store/db.ts';
import { writeEntries } from '../store/writes.ts';
import { failureReason, isPermanent } from './failures.ts';
import { WriteThroughMetrics } from './metrics.ts';
import { drainAttempts, type WorkerSettings } from '../settings/views.ts';

export const queueName = 'outbox';

/** Batches one drain job writes before it makes way for other partitions' jobs: fairness, not a setting (STOCKADE_OUTBOX_BATCH_MAX sizes a batch). */
const drainRoundsMax = 20;
/** A retry pass that leaves parked entries parked logs a warning at most this often (else at debug). */
const parkedWarnIntervalMs = 60_000;

interface DrainJob {
  partition: number;
}

export interface WriteThroughStats {
  /** Outbox entries written (and trimmed). */
  written: number;
  batches: number;
  /** Failed drain attempts. */
  failures: number;
  /** Entries this process parked. */
  parked: number;
  /** Parked entries tried again, and of them written (and unparked). */
  parkedRetried: number;
  unparked: number;
}

/**
 * Write-through: outbox streams -> PostgreSQL, through BullMQ.
 *
 * A pump (in every worker process) looks at the outboxes every pollMs and adds
 * one `drain` job per partition with entries, under the job id drain-<p>: while
 * that job waits or runs, adding it again is a no-op, so a partition is drained
 * by one worker at a time, in stream order, while partitions drain in parallel
 * across processes. A drain job reads up to batchMax entries, writes them in one
 * transaction (idempotent rows), and only then deletes them from the stream.
 * A worker killed at any point leaves its entries in the stream; its job's
 * lock runs out and another worker takes it over; rows already written are
 * skipped. Failed attempts retry with backoff (PostgreSQL down: the outbox
 * grows and drains when it returns); a job out of attempts stays failed and
 * visible for failedRetryMs, then is retried.
 *
 * A batch that fails for a reason no retry fixes (failures.ts) would block its
 * partition for ever: from the job's parkAfterAttempts-th attempt on it is
 * split in halves, written in stream order, down to the single entries that
 * still fail, which are parked (moved to the partition's parked stream with the
 * reason, logged at error). The entries after them drain on. Parked entries
 * are tried again every parkedRetryMs, in order, under their original event id.
 */
export class WriteThrough {
  readonly stats: WriteThroughStats = { written: 0, batches: 0, failures: 0, parked: 0, parkedRetried: 0, unparked: 0 };
  /** Lag (commit in Redis to rows in PostgreSQL) and outcome counters, for GET /metrics. */
  readonly metrics = new WriteThroughMetrics(this.stats);
  private readonly queue: Queue<DrainJob>;
  private readonly worker: Worker<DrainJob>;
  private readonly connection: ReturnType<typeof bullConnection>;
  private pumpTimer: NodeJS.Timeout | null = null;
  private pumping = false;
  private lastFailedCheck = 0;
  private lastParkedCheck = 0;
  private lastParkedWarn = 0;
  /** Per partition, the parked entry the last retry pass ended at, when it stopped at its limit. */
  private readonly parkedCursor = new Map<number, string>();

  constructor(private readonly engine: Engine, redisUrl: string, private readonly sql: Sql,
    private readonly settings: WorkerSettings, private readonly log: Logger) {
    const connection = this.connection = bullConnection(redisUrl, 'stockade-writethrough', engine.clusterNodes());
    const prefix = `${engine.settings.keyPrefix}{bull}`;
    this.queue = new Queue<DrainJob>(queueName, { connection, prefix });
    this.worker = new Worker<DrainJob>(queueName, (job) => this.drain(job), {
      connection, prefix, concurrency: settings.concurrency,
      lockDuration: settings.lockMs, stalledInterval: settings.lockMs, maxStalledCount: 1_000_000,
      settings: { backoffStrategy: (attemptsMade: number) => Math.min(10_000, 200 * 2 ** attemptsMade) },
    });
    this.worker.on('failed', (job, error) => {
      this.stats.failures += 1;
      this.log.warn({ err: error, partition: job?.data.partition, attempt: job?.attemptsMade }, 'write-through batch failed; will retry');
    });
    this.worker.on('error', (error) => this.log.warn({ err: error }, 'write-through worker error'));
  }

  start(): void {
    this.pumpTimer = setInterval(() => void this.pump(), this.settings.pollMs);
  }

  /** Stops pumping and lets the jobs in hand finish. */
  async stop(): Promise<void> {
    if (this.pumpTimer) clearInterval(this.pumpTimer);
    this.pumpTimer = null;
    // A job still running past the lock is left to the stall check (another worker runs it again;
    // its rows are written once, ON CONFLICT DO NOTHING).
    await closeBull(this.queue, this.worker, this.settings.lockMs, this.log, 'write-through', this.connection);
  }

  /** Outbox entries not yet written through, over every partition. */
  backlog(): Promise<number> {
    return this.engine.outbox.backlog();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const [lengths, parkedDue] = await Promise.all([this.engine.outbox.outboxLengths(), this.parkedRetryDue()]);
      const partitions = lengths.flatMap((length, p) => (length > 0 || parkedDue.has(p) ? [p] : []));
      await Promise.all(partitions.map((partition) => this.queue.add('drain', { partition }, {
        jobId: `drain-${partition}`, removeOnComplete: true, removeOnFail: false,
        attempts: drainAttempts, backoff: { type: 'custom' },
      })));
      await this.retryFailed();
    } catch (error) {
      this.log.warn({ err: error }, 'write-through pump failed');
    } finally {
      this.pumping = false;
    }
  }

  /** Partitions with parked entries due for a retry (looked at every parkedRetryMs / 4, not every poll). */
  private async parkedRetryDue(): Promise<Set<number>> {
    if (Date.now() - this.lastParkedCheck < this.settings.parkedRetryMs / 4) return new Set();
    this.lastParkedCheck = Date.now();
    const withParked = (await this.engine.outbox.parkedLengths()).flatMap((length, p) => (length > 0 ? [p] : []));
    return new Set(withParked.length > 0 ? await this.engine.outbox.parkedRetryDue(withParked) : []);
  }

  /** A drain job out of attempts stays failed (visible) for failedRetryMs, then runs again. */
  private async retryFailed(): Promise<void> {
    if (Date.now() - this.lastFailedCheck < this.settings.failedRetryMs / 4) return;
    this.lastFailedCheck = Date.now();
    for (const job of await this.queue.getFailed(0, 100)) {
      if (Date.now() - (job.finishedOn ?? 0) >= this.settings.failedRetryMs) await job.retry('failed').catch(() => {});
    }
  }

  private async drain(job: Job<DrainJob>): Promise<void> {
    const partition = job.data.partition;
    if (await this.engine.outbox.claimParkedRetry(partition, this.settings.parkedRetryMs)) await this.retryParked(partition);
    const parkOnFailure = job.attemptsMade + 1 >= this.settings.parkAfterAttempts;
    for (let round = 0; round < drainRoundsMax; round++) {
      const entries = await this.engine.outbox.read(partition, this.settings.batchMax);
      if (entries.length === 0) return;
      await this.writeBatch(partition, entries, parkOnFailure);
    }
  }

  /** Writes entries in one transaction, then trims them; with parkOnFailure, a permanent failure splits the batch. */
  private async writeBatch(partition: number, entries: DecodedEntry[], parkOnFailure: boolean): Promise<void> {
    try {
      await writeEntries(this.sql, partition, requireDecoded(entries));
    } catch (error) {
      await this.fenceOnRollback(partition, error);
      if (!parkOnFailure || !isPermanent(error)) throw error;
      return this.split(partition, entries, error);
    }
    crashPoint('after-pg-insert');
    await this.engine.outbox.trim(partition, entries);
    await this.observeWritten(partition, entries); // after the trim: a batch retried after a failed trim is observed once
    this.stats.written += entries.length;
    this.stats.batches += 1;
  }

  /** Writes each half on its own, the earlier first; a single entry that fails for good is parked. */
  private async split(partition: number, entries: DecodedEntry[], error: unknown): Promise<void> {
    if (entries.length === 1) return this.park(partition, entries[0]!, error);
    const half = Math.ceil(entries.length / 2);
    await this.writeBatch(partition, entries.slice(0, half), true);
    await this.writeBatch(partition, entries.slice(half), true);
  }

  private async park(partition: number, entry: DecodedEntry, error: unknown): Promise<void> {
    const reason = failureReason(error);
    if (await this.engine.outbox.park(partition, entry, reason)) {
      this.stats.parked += 1;
      this.log.error({ partition, event_id: entry.eventId, event_type: entry.event?.t ?? 'undecodable', reason },
        'outbox entry parked');
    }
    await this.engine.outbox.startParkedWait(partition, this.settings.parkedRetryMs);
  }

  /**
   * Tries parked entries again, in order, each in its own transaction, under
   * its original event id; a written one leaves the parked stream. A pass reads
   * pages of batchMax and goes on to the next page (at most drainRoundsMax)
   * only while every entry it tries is written; the next pass goes on from
   * where this one stopped.
   */
  private async retryParked(partition: number): Promise<void> {
    for (let page = 0; page < drainRoundsMax; page++) {
      const entries = await this.nextParked(partition);
      const { written, reason } = await this.retryEach(partition, entries);
      if (written > 0) this.log.info({ partition, written }, 'parked outbox entries written');
      if (reason !== null) return this.logStillParked(partition, entries.length - written, reason);
      if (entries.length < this.settings.batchMax) return;
    }
  }

  /** The next batchMax parked entries after the last pass's, from the first again once the end is reached. */
  private async nextParked(partition: number): Promise<DecodedEntry[]> {
    const countMax = this.settings.batchMax;
    const after = this.parkedCursor.get(partition) ?? null;
    let entries = await this.engine.outbox.readParked(partition, after, countMax);
    if (entries.length === 0 && after !== null) entries = await this.engine.outbox.readParked(partition, null, countMax);
    if (entries.length < countMax) this.parkedCursor.delete(partition);
    else this.parkedCursor.set(partition, entries.at(-1)!.streamId);
    return entries;
  }

  /** Writes each parked entry on its own; a transient failure stops the pass (the job retries). */
  private async retryEach(partition: number, entries: DecodedEntry[]): Promise<{ written: number; reason: string | null }> {
    this.stats.parkedRetried += entries.length;
    return retryParkedEntries(this.engine, this.sql, partition, entries, async (entry) => {
      await this.observeWritten(partition, [entry]);
      this.stats.unparked += 1;
    });
  }

  /** The backstop refused an event of a Redis that went back in time: the partition is fenced (every process refuses). */
  private async fenceOnRollback(partition: number, error: unknown): Promise<void> {
    if ((error as { code?: unknown })?.code !== 'FENCED') return;
    const reason = await this.engine.fence(partition, 'rolled back: write-through found an event numbered at or below PostgreSQL\'s marker');
    this.log.error({ partition, reason, err: error }, 'Redis went back in time: the partition is fenced; its events are not written');
  }

  private observeWritten(partition: number, entries: DecodedEntry[]): Promise<void> {
    return this.metrics.observeWritten(entries, () => this.engine.outbox.clockMs(partition));
  }

  /** At warn at most every parkedWarnIntervalMs (the entries were logged when parked), else at debug. */
  private logStillParked(partition: number, failed: number, reason: string): void {
    const warn = Date.now() - this.lastParkedWarn >= parkedWarnIntervalMs;
    if (warn) this.lastParkedWarn = Date.now();
    this.log[warn ? 'warn' : 'debug']({ partition, failed, first_reason: reason }, 'parked outbox entries still fail; they stay parked');
  }
}

/**
 * Writes parked entries again, each in its own transaction under its original
 * event id; a written one leaves the parked stream (then onWritten). A
 * permanent failure leaves the entry parked and goes on (the first reason is
 * answered); a transient one throws. Used by write-through's retry passes and
 * by `reconcile repair`.
 */
export async function retryParkedEntries(engine: Engine, sql: Sql, partition: number, entries: DecodedEntry[],
  onWritten?: (entry: DecodedEntry) => Promise<void>): Promise<{ written: number; reason: string | null }> {
  let written = 0;
  let reason: string | null = null;
  for (const entry of entries) {
    try {
      await writeEntries(sql, partition, requireDecoded([entry]));
    } catch (error) {
      if (!isPermanent(error)) throw error;
      reason ??= failureReason(error);
      continue;
    }
    await engine.outbox.unpark(partition, entry);
    await onWritten?.(entry);
    written += 1;
  }
  return { written, reason };
}
