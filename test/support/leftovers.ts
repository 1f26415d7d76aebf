import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { isAlive } from '../../services/process.ts';
import { stopProcessesUnderSync } from './processes.ts';

/**
 * Temp dirs and child processes of a test file, gone after each test: the
 * processes killed, whatever still runs in the dirs stopped, the dirs removed.
 */
export function leftovers() {
  const dirs: string[] = [];
  const pids: number[] = [];
  afterEach(() => {
    for (const pid of pids.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    for (const dir of dirs.splice(0)) {
      stopProcessesUnderSync(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    dir(prefix: string): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      chmodSync(dir, 0o711); // like /tmp for what runs in it: the embedded services' OS users pass through (as root)
      dirs.push(dir);
      return dir;
    },
    process(pid: number | undefined): void {
      if (pid) pids.push(pid);
    },
  };
}
