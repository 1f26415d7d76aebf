import { hostname } from 'node:os';
import { Queue, Worker, type Job } from 'bullmq';
import type { Engine, EngineSettings, Logger, OverdueRecovery, SweepCounts } from '../engine/index.ts';
import { verify, verifySummary, type ChargeLedger } from '../reconciler/verify.ts';
import type { Sql } from '../store/db.ts';
import { bullConnection, closeBull } from './bull.ts';

export const sweepQueueName = 'sweeps';

/** What a sweep works with: the process's engine, its overdue-payment recovery, PostgreSQL and the provider's records (verify). */
export interface SweepParts {
  engine: Engine;
  recovery: OverdueRecovery;
  sql: Sql;
  provider: ChargeLedger;
  log: Logger;
}

/**
 * A sweep: a job scheduler of its own (its name is the scheduler's id and the
 * job's name), run once per interval across every worker process. `run` is
 * one pass; every step of it must be safe to do twice (a pass cut short by a
 * killed process is done again by the next, and two passes may overlap when
 * one outlasts its interval), and it reports what it did as counts for the
 * stack-wide stats (`failed`: steps that failed, tried again next pass).
 */
export interface Sweep {
  name: string;
  intervalMs: (s: EngineSettings) => number;
  run: (parts: SweepParts) => Promise<SweepCounts>;
}

/** Every sweep. Adding one is one entry here (and its interval setting, if it needs its own). */
export const sweeps: readonly Sweep[] = [
  {
    // Due holds back to available, and records past retention deleted, every partition and shard.
    name: 'expire',
    intervalMs: (s) => s.sweepIntervalMs,
    run: async ({ engine, log }) => {
      const r = await engine.sweepOnce();
      if (r.failed > 0) log.warn({ err: r.lastError, failed: r.failed }, 'sweep steps failed; the next pass tries again');
      return { expired: r.expired, purged: r.purged, failed: r.failed };
    },
  },
  {
    // Holds left paying past their payment deadline settled from the provider's record; voids looked at again.
    name: 'overdue',
    intervalMs: (s) => s.overdueSweepIntervalMs,
    run: async ({ recovery, log }) => {
      const r = await recovery.recoverOverdue();
      if (r.committed + r.released + r.refunded > 0) log.info(r, 'finished overdue payments');
      return { committed: r.committed, released: r.released, refunded: r.refunded, failed: r.failed };
    },
  },
  {
    // `reconcile verify`: every invariant of DESIGN.md §2 checked against Redis, PostgreSQL and the provider; its summary to /metrics.
    name: 'verify',
    intervalMs: (s) => s.verifyIntervalMs,
    run: async (parts) => {
      const report = await verify(parts);
      const summary = verifySummary(report);
      await parts.engine.recordSweepReport('verify', JSON.stringify(summary));
      if (!report.ok) parts.log.warn({ violations: report.violations.length, by_kind: summary.byKind }, 'verify found violations (stockade reconcile verify names them)');
      return { violations: report.violations.length };
    },
  },
];

export interface SweepSettings {
  /** A sweep job's lock (STOCKADE_WORKER_LOCK_MS): a killed process's pass is taken over after it. */
  lockMs: number;
}

/** What a sweep job returns (in BullMQ's completed events): who ran it, and its counts or why it was skipped. */
export interface SweepResult {
  pid: number;
  counts?: SweepCounts;
  /** How long the pass took. */
  ms?: number;
  skipped?: 'running' | 'unknown';
}

/**
 * How often each process checks that every sweep's scheduler exists and makes
 * it again when not (a Redis that lost its data, or a FLUSHALL, loses them).
 * Not a setting: a bound on how long sweeps stay stopped after Redis lost them.
 */
const schedulerCheckMs = 5_000;
/** Finished sweep jobs kept for inspection (per state), queue-wide: the newest only. */
const keptJobsMax = 100;

/**
 * The sweeps as BullMQ job schedulers on one queue, with a worker in every
 * process that runs workers (`npm start`'s primary, each `stockade workers`).
 * A scheduler makes one job per interval whatever the number of workers, so
 * a sweep runs once per interval across them; its next job is made when one
 * starts, so a pass that outlasts its interval queues no backlog (slots it
 * missed are skipped). A process killed mid-pass leaves its job to the stall
 * check (taken over after lockMs, done again); the next interval's job runs on
 * a live process meanwhile. A process runs one pass of a sweep at a time (an
 * iteration that finds its previous one still running here is skipped), and
 * its concurrency is one per sweep, so a slow sweep never holds up the others.
 * Counts go to Redis (Engine.recordSweep): GET /metrics shows them stack-wide.
 */
export class SweepWorkers {
  private readonly queue: Queue;
  private readonly worker: Worker<unknown, SweepResult>;
  private readonly connection: ReturnType<typeof bullConnection>;
  private readonly running = new Set<string>();
  private readonly byName: Map<string, Sweep>;
  private checkTimer: NodeJS.Timeout | null = null;

  constructor(private readonly parts: SweepParts, redisUrl: string, private readonly settings: SweepSettings,
    private readonly table: readonly Sweep[] = sweeps) {
    this.byName = new Map(table.map((s) => [s.name, s]));
    const connection = this.connection = bullConnection(redisUrl, 'stockade-sweeps', parts.engine.clusterNodes());
    const prefix = `${parts.engine.settings.keyPrefix}{bull}`;
    this.queue = new Queue(sweepQueueName, { connection, prefix });
    this.worker = new Worker<unknown, SweepResult>(sweepQueueName, (job) => this.process(job), {
      connection, prefix, name: `${hostname()}:${process.pid}`, concurrency: table.length,
      lockDuration: settings.lockMs, stalledInterval: settings.lockMs, maxStalledCount: 1,
    });
    this.worker.on('failed', (job, error) => parts.log.warn({ err: error, sweep: job?.name }, 'sweep failed; the next interval runs it again'));
    this.worker.on('error', (error) => parts.log.warn({ err: error }, 'sweep worker error'));
  }

  /** Makes (or updates: a changed interval) every sweep's scheduler, then checks they exist every schedulerCheckMs. */
  async start(): Promise<void> {
    await this.ensureSchedulers(true);
    this.checkTimer = setInterval(() => void this.ensureSchedulers(false), schedulerCheckMs);
  }

  async stop(): Promise<void> {
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
    await closeBull(this.queue, this.worker, this.settings.lockMs, this.parts.log, 'sweeps', this.connection);
  }

  /** `always`: upsert each scheduler; else only those missing. A failure is logged and tried again at the next check. */
  private async ensureSchedulers(always: boolean): Promise<void> {
    try {
      for (const sweep of this.table) {
        if (!always && (await this.queue.getJobScheduler(sweep.name))) continue;
        if (!always) this.parts.log.warn({ sweep: sweep.name }, 'sweep scheduler missing (Redis lost it?); made again');
        await this.queue.upsertJobScheduler(sweep.name, { every: sweep.intervalMs(this.parts.engine.settings) }, {
          name: sweep.name, opts: { removeOnComplete: { count: keptJobsMax }, removeOnFail: { count: keptJobsMax } },
        });
      }
    } catch (error) {
      this.parts.log.warn({ err: error }, 'could not make the sweep schedulers; trying again');
    }
  }

  private async process(job: Job): Promise<SweepResult> {
    const sweep = this.byName.get(job.name);
    // A sweep another version of Stockade scheduled: its processes run it.
    if (!sweep) return { pid: process.pid, skipped: 'unknown' };
    const { engine } = this.parts;
    if (this.running.has(sweep.name)) {
      await engine.recordSweep(sweep.name, { skipped: 1 }, null);
      return { pid: process.pid, skipped: 'running' };
    }
    this.running.add(sweep.name);
    const startedAt = performance.now();
    try {
      const counts = await sweep.run(this.parts);
      const ms = performance.now() - startedAt;
      await engine.recordSweep(sweep.name, { runs: 1, ...counts }, ms);
      return { pid: process.pid, counts, ms: Math.round(ms) };
    } catch (error) {
      await engine.recordSweep(sweep.name, { runs: 1, failed: 1 }, performance.now() - startedAt).catch(() => {});
      throw error;
    } finally {
      this.running.delete(sweep.name);
    }
  }
}
