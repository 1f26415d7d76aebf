import type { Engine, Logger } from '../engine/index.ts';
import type { Sql } from '../store/db.ts';
import { workerSettings, type WorkerSettings } from '../settings/views.ts';
import { WriteThrough } from './writethrough.ts';

/** Starts write-through in this process (inside `npm start`, or alone with `stockade workers`). */
export function startWorkers(engine: Engine, redisUrl: string, sql: Sql, log: Logger, overrides: Partial<WorkerSettings> = {}): WriteThrough {
  const writeThrough = new WriteThrough(engine, redisUrl, sql, workerSettings(process.env, overrides), log);
  writeThrough.start();
  return writeThrough;
}
