import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitForHttp } from '../../services/process.ts';
import { waitFor } from './api.ts';

/** The repository root (where package.json is): `npm start` runs there. */
export const root = join(import.meta.dirname, '..', '..');

export const stackTokens = { admin: 'stack-admin-token', client: 'stack-client-token' };

/** A process, alive and not a zombie (an orphan's zombie lingers where pid 1 does not reap). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below pid (children, their children, ...), from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone meanwhile */ }
  }
  const found: number[] = [];
  const below = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [child, parent] of parentOf) {
      if (below.has(parent) && !below.has(child)) {
        below.add(child);
        found.push(child);
        grew = true;
      }
    }
  }
  return found;
}

/** The pids of the embedded redis-server and PostgreSQL under dataDir, from their pid files (0: none). */
export function servicePids(dataDir: string): { redis: number; postgres: number } {
  const first = (file: string) => (existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]!.trim()) || 0 : 0);
  return { redis: first(join(dataDir, 'redis', 'redis.pid')), postgres: first(join(dataDir, 'postgres', 'postmaster.pid')) };
}

export interface Stack {
  child: ChildProcess;
  /** The pid the signal goes to: npm's (or node's, when started without npm). */
  pid: number;
  base: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every pid of it at this moment: npm, node (the primary, its API processes), redis-server, PostgreSQL's postmaster. */
  pids(): number[];
}

/**
 * `npm start` as a user runs it (prestart included), in its own process group
 * (`detached`, so a test can signal the group as a terminal's Ctrl-C does), with
 * STOCKADE_DATA_DIR and PORT set and the embedded services. Waits for `API
 * listening` (rejects with the output when it exits first).
 */
export async function startStack(o: { dataDir: string; port: number; env?: Record<string, string>; npm?: boolean }): Promise<Stack> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, STOCKADE_DATA_DIR: o.dataDir, PORT: String(o.port), STOCKADE_HOST: '127.0.0.1',
    STOCKADE_ADMIN_TOKEN: stackTokens.admin, STOCKADE_CLIENT_TOKEN: stackTokens.client, STOCKADE_LOG_LEVEL: 'info',
    REDIS_URL: '', DATABASE_URL: '', npm_config_update_notifier: 'false', ...o.env,
  };
  const [command, args] = o.npm === false ? [process.execPath, ['bin/stockade.mjs', 'start']] : ['npm', ['start']];
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const stack: Stack = {
    child,
    pid: child.pid!,
    base: `http://127.0.0.1:${o.port}`,
    output: () => text,
    exited,
    pids: () => {
      const { redis, postgres } = servicePids(o.dataDir);
      return [child.pid!, ...descendants(child.pid!), redis, postgres].filter((pid) => pid > 0);
    },
  };
  let gone = false;
  void exited.then(() => { gone = true; });
  await waitFor(async () => {
    if (gone) throw new Error(`npm start exited before it listened:\n${text}`);
    return text.includes('"API listening"');
  }, 240_000, 'API listening');
  return stack;
}

/** Kills whatever is left of a stack (a test that failed midway): its process group, then each pid. */
export function killStack(stack: Stack | null, pids: number[] = []): void {
  if (!stack) return;
  for (const pid of new Set([...stack.pids(), ...pids])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
  }
}

/** Waits until none of pids runs (generous: the machine may be loaded). */
export async function waitGone(pids: number[], what: string): Promise<void> {
  await waitFor(async () => pids.every((pid) => !running(pid)), 60_000, `${what}: pids ${pids.filter(running).join(', ')} gone`);
}

/**
 * `stockade start` as a child of this test, with `env` over this process's
 * environment, its log on a pipe. Resolves once the primary logs "API
 * listening" (until every API process listens, a placeholder holds the port
 * and answers 503 "starting") and /healthz answers on `port`.
 */
export async function startListening(port: number, env: Record<string, string>): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['bin/stockade.mjs', 'start'], {
    env: { ...process.env, PORT: String(port), STOCKADE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  await waitFor(async () => log.includes('"msg":"API listening"'), 30_000, 'the API processes listening');
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 30_000);
  return { child, exited };
}
