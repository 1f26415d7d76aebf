import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Engine } from '../engine/engine.ts';
import type { Logger } from '../engine/log.ts';
import { decodeEntries, requireDecoded, type RawEntry } from '../engine/outbox.ts';
import type { Sql } from '../store/db.ts';
import { writeEntries } from '../store/writes.ts';
import type { WorkerSettings } from './settings.ts';

export const queueName = 'outbox';

interface DrainJob {
  partition: number;
}

export interface WriteThroughStats {
  written: number;
  batches: number;
  failures: number;
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
 */
export class WriteThrough {
  readonly stats: WriteThroughStats = { written: 0, batches: 0, failures: 0 };
  private readonly connection: Redis;
  private readonly queue: Queue<DrainJob>;
  private readonly worker: Worker<DrainJob>;
  private pumpTimer: NodeJS.Timeout | null = null;
  private pumping = false;
  private lastFailedCheck = 0;

  constructor(private readonly engine: Engine, redisUrl: string, private readonly sql: Sql,
    private readonly settings: WorkerSettings, private readonly log: Logger) {
    // BullMQ's blocking connections need maxRetriesPerRequest: null.
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: 'stockade-writethrough' });
    const prefix = `${engine.settings.keyPrefix}{bull}`;
    this.queue = new Queue<DrainJob>(queueName, { connection: this.connection, prefix });
    this.worker = new Worker<DrainJob>(queueName, (job) => this.drain(job), {
      connection: this.connection, prefix, concurrency: settings.concurrency,
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
    await this.worker.close();
    await this.queue.close();
    this.connection.disconnect();
  }

  /** Outbox entries not yet written through, over every partition. */
  backlog(): Promise<number> {
    return this.engine.outboxBacklog();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const lengths = await this.engine.outboxLengths();
      const adds = [];
      for (const [partition, length] of lengths.entries()) {
        if (length > 0) adds.push(this.queue.add('drain', { partition }, {
          jobId: `drain-${partition}`, removeOnComplete: true, removeOnFail: false,
          attempts: 8, backoff: { type: 'custom' },
        }));
      }
      await Promise.all(adds);
      await this.retryFailed();
    } catch (error) {
      this.log.warn({ err: error }, 'write-through pump failed');
    } finally {
      this.pumping = false;
    }
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
    const key = this.engine.ctx.keys.partition(partition).outbox;
    const redis = this.engine.ctx.redis;
    for (let round = 0; round < 20; round++) {
      const raw = (await redis.xrangeBuffer(key, '-', '+', 'COUNT', this.settings.batchMax)) as unknown as RawEntry[];
      if (raw.length === 0) return;
      const entries = decodeEntries(partition, raw);
      await writeEntries(this.sql, partition, requireDecoded(entries));
      await redis.xdel(key, ...entries.map((e) => e.streamId));
      this.stats.written += entries.length;
      this.stats.batches += 1;
    }
  }
}
