import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopProcessesUnderSync } from './processes.ts';

/** A temp dir a global setup owns: what runs in it is stopped and it is removed at teardown, on SIGINT/SIGTERM and at exit. */
export interface RunRoot {
  root: string;
  /** Runs `stop` (the services started in the root), then removes the root: the setup's teardown. */
  teardown(stop: () => Promise<void>): Promise<void>;
}

/**
 * Makes the root (0o1777, like /tmp: PostgreSQL and redis-server run as their own OS users) and guards it.
 * vitest exits 1 ms after SIGINT/SIGTERM without running teardowns or removing its own temp dir (transformed
 * modules, under the TMPDIR it started with): the cleanup on a signal is synchronous, so it completes first.
 */
export function runRoot(project: TestProject, prefix: string): RunRoot {
  const root = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  chmodSync(root, 0o1777);
  let removed = false;
  const removeSync = () => {
    if (removed) return;
    removed = true;
    const left = stopProcessesUnderSync(root);
    if (left.length > 0) process.stderr.write(`global teardown: stopped what was left running under ${root}: ${left.join(', ')}\n`);
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
  const abandon = () => {
    removeSync();
    rmSync(project.tmpDir, { recursive: true, force: true, maxRetries: 3 });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    abandon();
    unlisten();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const unlisten = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', abandon);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', abandon);
  return {
    root,
    teardown: async (stop) => {
      try {
        await stop();
      } finally {
        removeSync();
        unlisten();
      }
    },
  };
}
