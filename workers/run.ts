import type { Engine, Logger } from '../engine/index.ts';
import type { Sql } from '../store/db.ts';
import { workerSettings, type WorkerSettings } from '../settings/views.ts';
import { SweepWorkers, type SweepParts, type SweepSettings } from './sweeps.ts';
import { WriteThrough } from './writethrough.ts';

/** Starts write-through in this process (inside `npm start`, or alone with `stockade workers`). */
export function startWorkers(engine: Engine, redisUrl: string, sql: Sql, log: Logger, overrides: Partial<WorkerSettings> = {}): WriteThrough {
  const writeThrough = new WriteThrough(engine, redisUrl, sql, workerSettings(process.env, overrides), log);
  writeThrough.start();
  return writeThrough;
}

/** Starts this process's sweep worker (inside `npm start`, and in every `stockade workers`): the sweeps run once per interval across them. */
export async function startSweeps(parts: SweepParts, redisUrl: string, overrides: Partial<SweepSettings> = {}): Promise<SweepWorkers> {
  const sweeps = new SweepWorkers(parts, redisUrl, { lockMs: workerSettings().lockMs, ...overrides });
  await sweeps.start();
  return sweeps;
}
