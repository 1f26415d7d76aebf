import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../common/errors.ts';
import type { ServiceSet } from './local.ts';
import { dataDirMode, privateDir, privateFileMode } from './private-files.ts';
import { isAlive } from './process.ts';

/** What the lock file holds: the process that runs Stockade on this data dir, and the embedded services it owns. */
interface LockRecord {
  pid: number;
  owns: ServiceSet;
}

const none: ServiceSet = { redis: false, postgres: false };

/**
 * One `stockade start` per data directory: `<data dir>/stockade.lock` names the
 * process that holds it. A lock whose process is gone (or is no Stockade: its
 * pid was reused) is stale and taken over, so a crashed start blocks nothing;
 * the services it owned and left running are handed to the new holder
 * (`inherited`), which stops them when it stops.
 */
export class DataDirLock {
  private constructor(readonly file: string, readonly inherited: ServiceSet) {}

  /** Throws IN_USE when a running Stockade holds dataDir's lock; changes nothing (the directory need not exist). */
  static check(dataDir: string, pid = process.pid): void {
    const text = readText(join(dataDir, 'stockade.lock'));
    const held = text === null ? null : parseRecord(text);
    if (held && held.pid !== pid && runsStockade(held.pid)) throw inUse(dataDir, held.pid);
  }

  /** Takes the lock (creating the directory), or throws IN_USE naming the data directory and the process that holds it. */
  static take(dataDir: string, pid = process.pid): DataDirLock {
    privateDir(dataDir, dataDirMode());
    const file = join(dataDir, 'stockade.lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(file, record(pid, none), { flag: 'wx', mode: privateFileMode });
        return new DataDirLock(file, none);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const text = readText(file);
      if (text === null) continue; // released meanwhile
      const held = parseRecord(text);
      if (held && held.pid !== pid && runsStockade(held.pid)) throw inUse(dataDir, held.pid);
      // Stale (its process is gone): take it over with what that process owned, unless another start was first.
      if (readText(file) !== text) continue;
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, privateFileMode); // an older Stockade's, 0644
      writeFileSync(file, record(pid, none));
      return new DataDirLock(file, held?.owns ?? none);
    }
    throw new StockadeError('IN_USE', `STOCKADE_DATA_DIR ${dataDir}: other Stockades are taking ${file} at the same time`);
  }

  /** Records which embedded services the holder owns, so a successor can stop them if the holder dies. */
  own(owns: ServiceSet, pid = process.pid): void {
    writeFileSync(this.file, record(pid, owns));
  }

  /** Removes the lock file if it is still this process's. */
  release(pid = process.pid): void {
    const text = readText(this.file);
    if (text !== null && parseRecord(text)?.pid === pid) rmSync(this.file, { force: true });
  }
}

function inUse(dataDir: string, pid: number): StockadeError {
  return new StockadeError('IN_USE', `STOCKADE_DATA_DIR ${dataDir} is in use by a running Stockade (pid ${pid}, `
    + `lock file ${join(dataDir, 'stockade.lock')}): stop it first, or set STOCKADE_DATA_DIR to another directory`);
}

function record(pid: number, owns: ServiceSet): string {
  return `${JSON.stringify({ pid, owns })}\n`;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The record in a lock file's text; null when it is none (half written, or not Stockade's): stale. */
function parseRecord(text: string): LockRecord | null {
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, owns: { ...none, ...parsed.owns } } : null;
  } catch {
    return null;
  }
}

/** Whether pid is alive and (where /proc says) a Stockade, not an unrelated process that got a dead one's pid. */
function runsStockade(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, 'utf8').includes('stockade');
  } catch {
    return true;
  }
}
