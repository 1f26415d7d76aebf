import { setTimeout as sleep } from 'node:timers/promises';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { promisify } from 'node:util';
import { StockadeError } from '../engine/index.ts';

export const run = promisify(execFile);

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether this process runs as root: then the embedded services run as their own OS users. */
export function runsAsRoot(): boolean {
  return process.geteuid?.() === 0;
}

/**
 * uid and gid of the OS user an embedded service runs as when Stockade runs as
 * root (redis-server and PostgreSQL must not run as root); null when not root.
 */
export function serviceUserIds(user: string, pkg: string): { uid: number; gid: number } | null {
  if (!runsAsRoot()) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  } catch (error) {
    throw new StockadeError('SERVICE_FAILED', `running as root, Stockade runs ${pkg} as the OS user ${user}, which does not exist: `
      + `install ${pkg} with apt-get (it creates the user), or create it (useradd --system --user-group --no-create-home ${user}), or run Stockade as another user`, { cause: error });
  }
}

/** The command line that runs cmd as `user` (runuser) when ids is set, under umask 077: what it creates is 0600 / 0700. */
export function asServiceUser(user: string | null, cmd: string, args: string[]): [string, string[]] {
  const inner = ['sh', '-c', 'umask 077 && exec "$0" "$@"', cmd, ...args];
  return user ? ['runuser', ['-u', user, '--', ...inner]] : [inner[0]!, inner.slice(1)];
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}


/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new StockadeError('SERVICE_FAILED', `${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Waits until GET url answers 2xx (a server that is up, not just listening). */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      // Bounded by the deadline too: a server that accepts and never answers does not hang the wait.
      if ((await fetch(url, { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })).ok) return;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  throw new StockadeError('SERVICE_FAILED', `${url} did not answer within ${timeoutMs} ms`);
}

/** Sends SIGTERM and waits for the process to be gone (SIGKILL after timeoutMs). */
export async function stopPid(pid: number, timeoutMs = 15_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await sleep(25);
  }
}
