import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { dataDirSetting } from '../settings/views.ts';
import { freePort, portIsFree } from './process.ts';
import { postgresBinDir, postgresRunning, postgresUrl, startPostgres, stopPostgres } from './postgres.ts';
import { dataDirMode, privateDir, readPrivateFile, replacePrivateFile } from './private-files.ts';
import { redisRunning, redisUrls, startRedis, stopRedis } from './redis.ts';

/**
 * The embedded default: a private redis-server and PostgreSQL under one data dir.
 * The URLs carry the application's credentials (Redis user and PostgreSQL role
 * stockade, passwords 0600 in the services' dirs); redisAdminUrl is the Redis
 * user with every command (for operators and tests).
 */
export interface LocalServices {
  dataDir: string;
  redisUrl: string;
  redisAdminUrl: string;
  databaseUrl: string;
}

interface ServicesFile {
  redisPort: number;
  postgresPort: number;
}

export interface LocalServicesOptions {
  dataDir: string;
  ephemeral?: boolean;
  appendfsync?: 'everysec' | 'always';
  /** The embedded Redis's maxmemory (default: a quarter of this machine's memory). */
  maxmemoryBytes?: number;
  /** Ports to try before the fixed defaults (test runs pass free ones, so parallel runs do not race for 6390 and 5439). */
  ports?: ServicesFile;
  /** Tests only: PostgreSQL's application role may create databases and use any (services/postgres.ts). */
  anyDatabase?: boolean;
}

const mib = 1024 * 1024;

/** A quarter of the machine's memory, at least 64 MiB: what the embedded Redis may use unless told. */
export function defaultRedisMaxmemoryBytes(): number {
  return Math.max(64 * mib, Math.floor(totalmem() / 4 / mib) * mib);
}

const preferredPorts = { redis: 6390, postgres: 5439 };

/** STOCKADE_DATA_DIR, resolved. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(dataDirSetting(env));
}

function readServicesFile(dataDir: string): ServicesFile | null {
  const file = join(dataDir, 'services.json');
  return existsSync(file) ? (JSON.parse(readPrivateFile(file)) as ServicesFile) : null;
}

async function pickPort(preferred: number): Promise<number> {
  return (await portIsFree(preferred)) ? preferred : freePort();
}

/** The services running under dataDir, or null when either is down. */
export function findLocalServices(dataDir: string): LocalServices | null {
  const ports = readServicesFile(dataDir);
  if (!ports || !redisRunning(join(dataDir, 'redis')) || !postgresRunning(join(dataDir, 'postgres'))) return null;
  return urlsOf(dataDir, ports);
}

/** The URLs with their credentials (read from the services' dirs); empty for a service `only` leaves out. */
function urlsOf(dataDir: string, ports: ServicesFile, only: ServiceSet = both): LocalServices {
  const redis = only.redis ? redisUrls(join(dataDir, 'redis'), ports.redisPort) : { url: '', adminUrl: '' };
  const databaseUrl = only.postgres ? postgresUrl(join(dataDir, 'postgres'), ports.postgresPort) : '';
  return { dataDir, redisUrl: redis.url, redisAdminUrl: redis.adminUrl, databaseUrl };
}

/** Which of the embedded services a call concerns. */
export interface ServiceSet {
  redis: boolean;
  postgres: boolean;
}

const both: ServiceSet = { redis: true, postgres: true };

/**
 * Starts what is not running yet under dataDir (reusing the ports it had) and returns the URLs;
 * `only` limits it to some of them. `started` says which this call started. When one fails, the
 * ones this call started are stopped again before the error is thrown: a failed start leaves nothing.
 */
export async function startLocalServices(options: LocalServicesOptions & { only?: ServiceSet }): Promise<LocalServices & { started: ServiceSet }> {
  const dataDir = resolve(options.dataDir);
  const only = options.only ?? both;
  // 0700; 0711 as root, where the redis and postgres OS users pass through to their own 0700 dirs.
  privateDir(dataDir, dataDirMode());
  const known = readServicesFile(dataDir);
  const redisDir = join(dataDir, 'redis');
  const pgDir = join(dataDir, 'postgres');
  const started: ServiceSet = { redis: only.redis && !redisRunning(redisDir), postgres: only.postgres && !postgresRunning(pgDir) };
  const ports: ServicesFile = {
    redisPort: known && !started.redis ? known.redisPort : await pickPort(known?.redisPort ?? options.ports?.redisPort ?? preferredPorts.redis),
    postgresPort: known && !started.postgres ? known.postgresPort : await pickPort(known?.postgresPort ?? options.ports?.postgresPort ?? preferredPorts.postgres),
  };
  const results = await Promise.allSettled([
    started.redis ? startOnPort(ports.redisPort, () => redisRunning(redisDir), async (port) => {
      await startRedis({ dir: redisDir, port, appendfsync: options.appendfsync, maxmemoryBytes: options.maxmemoryBytes ?? defaultRedisMaxmemoryBytes() });
      ports.redisPort = port;
    }) : null,
    started.postgres ? startOnPort(ports.postgresPort, () => postgresRunning(pgDir), async (port) => {
      await startPostgres({ dir: pgDir, port, ephemeral: options.ephemeral, anyDatabase: options.anyDatabase });
      ports.postgresPort = port;
    }) : null,
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await stopLocalServices(dataDir, { only: started });
    throw failed.reason;
  }
  replacePrivateFile(join(dataDir, 'services.json'), JSON.stringify(ports));
  return { ...urlsOf(dataDir, ports, only), started };
}

/**
 * Starts a service on port; when that fails because another process took the port
 * between the check and the start (the preferred ports are every data dir's first pick),
 * once more on a free one.
 */
async function startOnPort(port: number, running: () => boolean, start: (port: number) => Promise<void>): Promise<void> {
  try {
    await start(port);
  } catch (error) {
    if (running() || (await portIsFree(port))) throw error;
    await start(await freePort());
  }
}

/** The server programs missing for the given services (redis-server; PostgreSQL's initdb, pg_ctl, postgres). */
export function missingServiceBinaries(only: ServiceSet): string[] {
  const missing: string[] = [];
  if (only.redis) {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    } catch {
      missing.push('redis-server');
    }
  }
  if (only.postgres) {
    try {
      postgresBinDir();
    } catch {
      missing.push('PostgreSQL');
    }
  }
  return missing;
}

/**
 * Stops the embedded services under dataDir (`only`: some of them). `fast`: a forced stop
 * (Redis still fsyncs its AOF; PostgreSQL stops without a checkpoint and replays its WAL next time).
 */
export async function stopLocalServices(dataDir: string, options: { remove?: boolean; only?: ServiceSet; fast?: boolean } = {}): Promise<void> {
  const dir = resolve(dataDir);
  const only = options.only ?? both;
  await Promise.all([
    only.redis ? stopRedis(join(dir, 'redis'), options.fast ? 3_000 : undefined) : null,
    only.postgres ? stopPostgres(join(dir, 'postgres'), options.fast ? 'immediate' : 'fast') : null,
  ]);
  if (options.remove) rmSync(dir, { recursive: true, force: true });
}
