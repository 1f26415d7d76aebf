import { intSetting } from '../engine/index.ts';

/** Write-through worker settings (README "Configuration"). */
export interface WorkerSettings {
  /** Outbox entries written per transaction (whatever rows they make: inserts are cut by bind parameters). */
  batchMax: number;
  /** Drain jobs one process runs at once (each its own partition). */
  concurrency: number;
  /** How often each process looks for outboxes with entries. */
  pollMs: number;
  /** How long a drain job's lock lasts: a killed worker's job is taken over after it. */
  lockMs: number;
  /** How long a drain job that used up its attempts stays failed (visible) before it is retried. */
  failedRetryMs: number;
  /**
   * The attempt of a drain job on which a batch that fails for good (a reason no retry fixes)
   * is split until the entries that fail are parked, and the rest of the partition drains on.
   */
  parkAfterAttempts: number;
  /** How often parked entries are tried again (in order, one per transaction). */
  parkedRetryMs: number;
}

/** Attempts of one drain job (with backoff) before it stays failed for failedRetryMs. */
export const drainAttempts = 8;

export const workerDefaults: WorkerSettings = {
  batchMax: 500, concurrency: 4, pollMs: 50, lockMs: 10_000, failedRetryMs: 30_000, parkAfterAttempts: 3, parkedRetryMs: 60_000,
};

export function workerSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<WorkerSettings> = {}): WorkerSettings {
  const read = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : intSetting(name, raw, min, max);
  };
  return {
    // Inserts are cut by bind parameters (store/writes.ts), so any batch fits in its statements; the bound
    // keeps one transaction small: 800 orders of 100 lines are 80,000 item rows, written in 1.5 s here.
    batchMax: read('STOCKADE_OUTBOX_BATCH_MAX', workerDefaults.batchMax, 1, 800),
    concurrency: read('STOCKADE_WORKER_CONCURRENCY', workerDefaults.concurrency, 1, 64),
    pollMs: read('STOCKADE_OUTBOX_POLL_MS', workerDefaults.pollMs, 5, 60_000),
    lockMs: read('STOCKADE_WORKER_LOCK_MS', workerDefaults.lockMs, 1_000, 600_000),
    failedRetryMs: read('STOCKADE_WORKER_FAILED_RETRY_MS', workerDefaults.failedRetryMs, 100, 3_600_000),
    parkAfterAttempts: read('STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS', workerDefaults.parkAfterAttempts, 1, drainAttempts),
    parkedRetryMs: read('STOCKADE_PARKED_RETRY_MS', workerDefaults.parkedRetryMs, 100, 86_400_000),
    ...overrides,
  };
}
