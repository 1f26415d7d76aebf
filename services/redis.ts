import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../engine/index.ts';
import { isAlive, run, stopPid, waitForPort } from './process.ts';

export interface LocalRedisOptions {
  dir: string;
  port: number;
  /** 'everysec' (default) or 'always'. */
  appendfsync?: 'everysec' | 'always';
  /** Redis's maxmemory (with noeviction, writes past it fail with OOM); none when absent. */
  maxmemoryBytes?: number;
}

export interface LocalService {
  url: string;
  pid: number;
  port: number;
}

/**
 * Starts a private redis-server (daemonized) with its data under dir: AOF on,
 * noeviction, a maxmemory when given, loopback only. Its pid file and log live
 * in dir too.
 */
export async function startRedis(options: LocalRedisOptions): Promise<LocalService> {
  const { dir, port } = options;
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes',
    '--dir', dir, '--pidfile', pidFile, '--logfile', join(dir, 'redis.log'),
    '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'everysec',
    '--maxmemory-policy', 'noeviction', '--save', '',
    ...(options.maxmemoryBytes ? ['--maxmemory', String(options.maxmemoryBytes)] : []),
  ];
  try {
    await run('redis-server', args);
  } catch (error) {
    throw new StockadeError('SERVICE_FAILED', `redis-server did not start (is it installed? run npm run setup): ${(error as Error).message}`, { cause: error });
  }
  await waitForPort(port, 'redis-server');
  return { url: `redis://127.0.0.1:${port}`, pid: await waitForPid(pidFile), port };
}

/**
 * SIGTERM, which redis-server takes as SHUTDOWN: it fsyncs the AOF and exits
 * (SIGKILL after timeoutMs, and then the AOF may lack its last second).
 */
export async function stopRedis(dir: string, timeoutMs = 15_000): Promise<void> {
  const pid = readPid(join(dir, 'redis.pid'));
  if (pid > 0) await stopPid(pid, timeoutMs);
}

export function redisRunning(dir: string): boolean {
  const pidFile = join(dir, 'redis.pid');
  const pid = readPid(pidFile);
  return pid > 0 && isAlive(pid);
}

/** The pid in a pid file, or 0 when there is none (yet). */
function readPid(file: string): number {
  const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  return text ? Number(text) : 0;
}

/** Waits (bounded) for a daemonized redis-server to write its pid file. */
async function waitForPid(file: string, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let pid = readPid(file); ; pid = readPid(file)) {
    if (pid > 0) return pid;
    if (Date.now() > deadline) throw new StockadeError('SERVICE_FAILED', `no pid in ${file}`);
    await sleep(20);
  }
}
