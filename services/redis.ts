import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../engine/index.ts';
import { readPrivateFile, replacePrivateFile, secretFile, serviceDir } from './private-files.ts';
import { asServiceUser, isAlive, run, runsAsRoot, serviceUserIds, stopPid, waitForPort } from './process.ts';

export interface LocalRedisOptions {
  dir: string;
  port: number;
  /** 'everysec' (default) or 'always'. */
  appendfsync?: 'everysec' | 'always';
  /** Redis's maxmemory (with noeviction, writes past it fail with OOM); none when absent. */
  maxmemoryBytes?: number;
  /** Where the password files and the ACL file are (default: dir); the nodes of a local cluster share them. */
  secretsDir?: string;
  /** More configuration, written to a 0600 file of the server's (never argv: other accounts read a process's argv). */
  config?: string[];
}

export interface LocalService {
  /** With the application's credentials. */
  url: string;
  pid: number;
  port: number;
}

/** The embedded Redis: `url` as the application user, `adminUrl` as the operators' user (every command). */
export interface LocalRedis extends LocalService {
  adminUrl: string;
}

/** The OS user redis-server runs as when Stockade runs as root. */
export const redisOsUser = 'redis';
/** The ACL user Stockade connects as. */
export const redisAppUser = 'stockade';
/** The ACL user for operators and tests: every command (CONFIG, DEBUG, FLUSHALL, …). */
export const redisAdminUser = 'stockade-admin';

/**
 * What the application user may run: everything but @dangerous (FLUSHALL,
 * FLUSHDB, CONFIG, DEBUG, SHUTDOWN, MODULE, ACL, MONITOR, REPLICAOF/SLAVEOF,
 * SAVE/BGSAVE, KEYS, MIGRATE, CLIENT KILL|LIST, …), with INFO given back: the
 * engine's memory watermark and BullMQ's version check read it. Found by
 * running the whole suite as this user (a refused command answers NOPERM).
 */
export const redisAppCommands = '+@all -@dangerous +info';

/** Where the embedded Redis's secrets live: plain passwords 0600 of Stockade's user; the ACL file (hashes only) the server's. */
export function redisFiles(dir: string) {
  return {
    appPassword: join(dir, 'stockade.password'),
    adminPassword: join(dir, 'admin.password'),
    acl: join(dir, 'users.acl'),
    pid: join(dir, 'redis.pid'),
  };
}

/** The URLs of the Redis under dir (listening on port): with the passwords kept there. */
export function redisUrls(dir: string, port: number): { url: string; adminUrl: string } {
  const files = redisFiles(dir);
  if (!existsSync(files.acl)) {
    throw new StockadeError('SERVICE_FAILED', `the Redis under ${dir} was started by an older Stockade, with no passwords (no ${files.acl}): `
      + 'stop it (stockade services down, or stop the Stockade that runs it) and start again');
  }
  return {
    url: `redis://${redisAppUser}:${readPrivateFile(files.appPassword).trim()}@127.0.0.1:${port}`,
    adminUrl: `redis://${redisAdminUser}:${readPrivateFile(files.adminPassword).trim()}@127.0.0.1:${port}`,
  };
}

/**
 * The ACL file: the default user off, the application user least-privileged,
 * the admin user all; passwords as SHA-256 only. The default user is off (no
 * client is let in as it: no password, and `off` refuses AUTH) but keeps every
 * command: redis-server replays its AOF as the default user and checks that
 * user's permissions again at each EXEC (scripts' writes are logged as
 * MULTI/EXEC), so a default user with -@all silently drops every script's
 * writes when the AOF is loaded (redis/redis#14541, seen here on 7.0.15).
 */
function aclText(app: string, admin: string): string {
  const sha = (secret: string) => createHash('sha256').update(secret).digest('hex');
  return [
    'user default off resetpass resetkeys ~* resetchannels &* +@all',
    `user ${redisAppUser} on resetpass #${sha(app)} resetkeys ~* resetchannels &* ${redisAppCommands}`,
    `user ${redisAdminUser} on resetpass #${sha(admin)} resetkeys ~* resetchannels &* +@all`,
    '',
  ].join('\n');
}

/**
 * Starts a private redis-server (daemonized) with its data under dir: AOF on,
 * noeviction, a maxmemory when given, loopback only. Its pid file and log live
 * in dir too. Clients must authenticate (ACL users; the default user is off);
 * when Stockade runs as root, redis-server runs as the OS user redis. Its files
 * are 0600 and its dirs 0700 (umask 077), dir owned by the server's user.
 */
export async function startRedis(options: LocalRedisOptions): Promise<LocalRedis> {
  const { dir, port } = options;
  const owner = serviceUserIds(redisOsUser, 'redis-server');
  serviceDir(dir, owner, { tighten: true });
  const files = redisFiles(options.secretsDir ?? dir);
  const app = secretFile(files.appPassword).value;
  const admin = secretFile(files.adminPassword).value;
  // Rewritten at every start: the rules follow this version of Stockade, the hashes the password files.
  replacePrivateFile(files.acl, aclText(app, admin), owner ?? undefined);
  const configFile = join(dir, 'stockade.conf');
  if (options.config) replacePrivateFile(configFile, `${options.config.join('\n')}\n`, owner ?? undefined);
  const args = [
    ...(options.config ? [configFile] : []),
    '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes',
    '--dir', dir, '--pidfile', redisFiles(dir).pid, '--logfile', join(dir, 'redis.log'), '--aclfile', files.acl,
    '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'everysec',
    '--maxmemory-policy', 'noeviction', '--save', '',
    ...(options.maxmemoryBytes ? ['--maxmemory', String(options.maxmemoryBytes)] : []),
  ];
  const [cmd, argv] = asServiceUser(owner ? redisOsUser : null, 'redis-server', args);
  try {
    await run(cmd, argv, { cwd: '/' });
  } catch (error) {
    throw new StockadeError('SERVICE_FAILED', `redis-server did not start (is it installed? run npm run setup): ${(error as Error).message}`, { cause: error });
  }
  await waitForPort(port, 'redis-server');
  return { ...redisUrls(options.secretsDir ?? dir, port), pid: await waitForPid(dir), port };
}

/**
 * SIGTERM, which redis-server takes as SHUTDOWN: it fsyncs the AOF and exits
 * (SIGKILL after timeoutMs, and then the AOF may lack its last second).
 */
export async function stopRedis(dir: string, timeoutMs = 15_000): Promise<void> {
  const pid = serverPid(dir);
  if (pid > 0) await stopPid(pid, timeoutMs);
}

export function redisRunning(dir: string): boolean {
  const pid = serverPid(dir);
  return pid > 0 && isAlive(pid);
}

/**
 * The server's pid from its pid file, 0 when none. As root, only a process of
 * the dir's owner counts: the pid file is the server user's to write, and
 * root must not signal whatever pid it names (1, say).
 */
export function serverPid(dir: string): number {
  const pid = readPid(redisFiles(dir).pid);
  if (pid <= 0 || !runsAsRoot()) return pid;
  try {
    return statSync(`/proc/${pid}`).uid === statSync(dir).uid ? pid : 0;
  } catch {
    return 0; // gone
  }
}

/** The pid in a pid file, or 0 when there is none (yet). */
function readPid(file: string): number {
  const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  return /^\d+$/.test(text) ? Number(text) : 0;
}

/** Waits (bounded) for a daemonized redis-server to write its pid file. */
async function waitForPid(dir: string, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let pid = serverPid(dir); ; pid = serverPid(dir)) {
    if (pid > 0) return pid;
    if (Date.now() > deadline) throw new StockadeError('SERVICE_FAILED', `no pid in ${redisFiles(dir).pid}`);
    await sleep(20);
  }
}
