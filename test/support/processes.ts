import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isAlive } from '../../services/process.ts';

/** How long the synchronous cleanup waits for processes to stop before it kills them. */
const stopWaitMs = 10_000;

/**
 * Stops every process whose working directory is under dir (a daemonized
 * redis-server or PostgreSQL works in its data dir), synchronously: SIGTERM
 * (SIGQUIT, immediate shutdown, for PostgreSQL), SIGKILL after stopWaitMs.
 * Returns `pid (name)` of each. Linux (/proc); elsewhere it finds nothing.
 */
export function stopProcessesUnderSync(dir: string): string[] {
  const found = processesUnder(dir);
  for (const p of found) signal(p.pid, p.name === 'postgres' ? 'SIGQUIT' : 'SIGTERM');
  const deadline = Date.now() + stopWaitMs;
  while (found.some((p) => isAlive(p.pid)) && Date.now() < deadline) sleepSync(25);
  for (const p of found) if (isAlive(p.pid)) signal(p.pid, 'SIGKILL');
  return found.map((p) => `${p.pid} (${p.name})`);
}

/** Processes (other than this one) working in dir or below it. */
export function processesUnder(dir: string): Array<{ pid: number; name: string }> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: Array<{ pid: number; name: string }> = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push({ pid, name: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() });
    } catch { /* gone, or not ours to read */ }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch { /* already gone */ }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
