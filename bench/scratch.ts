import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirMode } from '../services/private-files.ts';

/**
 * Scratch directories of one command run (a benchmark's private redis-server,
 * PostgreSQL, server process). Each is removed when its run ends: normally, by an
 * error, or by SIGINT/SIGTERM, and what was started in it is stopped first (a
 * daemonized redis-server or PostgreSQL outlives a Ctrl-C of the command otherwise).
 */
export interface Scratch {
  readonly dir: string;
  /**
   * Something being started in dir: `stop` runs when the dir goes, after `start`
   * has settled (a start interrupted half-way is stopped, not orphaned). Returns start.
   */
  started<T>(start: Promise<T>, stop: () => Promise<void>): Promise<T>;
  /** `stop` runs when the dir goes (stops run in the reverse order of registration). */
  atRemoval(stop: () => Promise<void>): void;
}

interface Entry {
  dir: string;
  /** Stops, in the order registered; run in reverse. */
  stops: Array<() => Promise<void>>;
  removed: Promise<void> | null;
}

const live = new Set<Entry>();
const signals = ['SIGINT', 'SIGTERM'] as const;
const signalNumbers: Record<(typeof signals)[number], number> = { SIGINT: 2, SIGTERM: 15 };
let interruptedBy: NodeJS.Signals | null = null;

/** The signal that interrupted this process's scratch work, if one did (errors that follow it are its echo, not news). */
export function interrupted(): NodeJS.Signals | null {
  return interruptedBy;
}

/** Runs fn with a fresh scratch dir under the temp dir (prefix as for mkdtemp) and removes it afterwards, whatever happens. */
export async function withScratch<T>(prefix: string, fn: (scratch: Scratch) => Promise<T>): Promise<T> {
  const entry: Entry = { dir: mkdtempSync(join(tmpdir(), prefix)), stops: [], removed: null };
  chmodSync(entry.dir, dataDirMode()); // a data dir for the embedded services: 0711 as root (their OS users pass through)
  live.add(entry);
  listen();
  const scratch: Scratch = {
    dir: entry.dir,
    started: (start, stop) => {
      entry.stops.push(async () => {
        await start.catch(() => {});
        await stop();
      });
      return start;
    },
    atRemoval: (stop) => {
      entry.stops.push(stop);
    },
  };
  try {
    return await fn(scratch);
  } finally {
    await remove(entry);
  }
}

function remove(entry: Entry): Promise<void> {
  entry.removed ??= (async () => {
    for (const stop of [...entry.stops].reverse()) {
      try {
        await stop();
      } catch (error) {
        process.stderr.write(`stockade: while cleaning up ${entry.dir}: ${(error as Error).message}\n`);
      }
    }
    rmSync(entry.dir, { recursive: true, force: true, maxRetries: 3 });
    live.delete(entry);
    if (live.size === 0) unlisten();
  })();
  return entry.removed;
}

function listen(): void {
  for (const signal of signals) if (!process.listeners(signal).includes(onSignal)) process.on(signal, onSignal);
}

function unlisten(): void {
  // Once interrupted, stay subscribed: a second Ctrl-C during the cleanup must not cut it short.
  if (interruptedBy) return;
  for (const signal of signals) process.off(signal, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  if (interruptedBy) return;
  interruptedBy = signal;
  process.stderr.write(`\nstockade: ${signal}: stopping what this run started and removing its scratch dirs\n`);
  // What the run still prints now is the echo of this cleanup (clients whose server was just stopped), not news.
  console.error = console.warn = () => {};
  void removeAll().finally(() => process.exit(128 + signalNumbers[signal as (typeof signals)[number]]));
}

/** The newest first: a dir made inside a run (its provider records) goes before the services that run uses. */
async function removeAll(): Promise<void> {
  for (const entry of [...live].reverse()) await remove(entry);
}
