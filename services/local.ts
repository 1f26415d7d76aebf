import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { StockadeError } from '../engine/index.ts';
import { dataDirSetting } from '../settings/views.ts';
import { freePort, portIsFree } from './process.ts';
import { postgresBinDir, postgresRunning, postgresUrl, startPostgres, stopPostgres } from './postgres.ts';
import { dataDirMode, privateDir, readPrivateFile, replacePrivateFile } from './private-files.ts';
import { clusterMasters, clusterNodesRunning, clusterUrls, startEmbeddedCluster, stopEmbeddedCluster } from './embedded-cluster.ts';
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
  /** The masters of the embedded Redis Cluster (under redis-cluster/); absent: one redis-server (under redis/). */
  redisCluster?: number;
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
  /** 0: one redis-server; N: a local Redis Cluster of N masters. Absent: what the data dir has (one redis-server when new). */
  redisMasters?: number;
  /** The node timeout of the embedded cluster (tests shorten it). */
  clusterNodeTimeoutMs?: number;
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

/** The embedded Redis Cluster's dir. */
const clusterDir = (dataDir: string) => join(dataDir, 'redis-cluster');

/**
 * The masters of the data dir's embedded Redis, 0 for one redis-server, undefined for none yet; `asked` (the
 * setting) must agree with what the data dir has: its Redis holds the sale, and another one would start empty.
 */
export function embeddedRedisMasters(dataDir: string, asked?: number): number | undefined {
  const known = readServicesFile(dataDir);
  const has = known ? known.redisCluster ?? 0 : clusterMasters(clusterDir(dataDir)) ?? (existsSync(join(dataDir, 'redis')) ? 0 : undefined);
  if (asked !== undefined && has !== undefined && asked !== has) {
    const what = (n: number) => (n ? `a Redis Cluster of ${n} masters (--redis-cluster ${n})` : 'one redis-server');
    throw new StockadeError('SERVICE_FAILED', `the data dir ${dataDir} has ${what(has)}, not ${what(asked)}: start it as it was, `
      + 'or use another STOCKADE_DATA_DIR (stockade reconcile rebuild fills a new Redis from PostgreSQL)');
  }
  return asked ?? has;
}

/** Whether the embedded Redis runs (a cluster: every node when `whole`, else any). */
export function embeddedRedisRunning(dataDir: string, o: { whole: boolean } = { whole: true }): boolean {
  const masters = embeddedRedisMasters(dataDir) ?? 0;
  if (!masters) return redisRunning(join(dataDir, 'redis'));
  const up = clusterNodesRunning(clusterDir(dataDir)).length;
  return o.whole ? up === masters * 2 : up > 0;
}

/** The services running under dataDir, or null when either is down (a cluster: while any node runs). */
export function findLocalServices(dataDir: string): LocalServices | null {
  const ports = readServicesFile(dataDir);
  if (!ports || !embeddedRedisRunning(dataDir, { whole: false }) || !postgresRunning(join(dataDir, 'postgres'))) return null;
  return urlsOf(dataDir, ports);
}

/** The URLs with their credentials (read from the services' dirs); empty for a service `only` leaves out. */
function urlsOf(dataDir: string, ports: ServicesFile, only: ServiceSet = both): LocalServices {
  const redisOf = () => (ports.redisCluster ? clusterUrls(clusterDir(dataDir)) : redisUrls(join(dataDir, 'redis'), ports.redisPort));
  const redis = only.redis ? redisOf() : { url: '', adminUrl: '' };
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
  const masters = only.redis ? embeddedRedisMasters(dataDir, options.redisMasters) ?? 0 : known?.redisCluster ?? 0;
  const redisDir = join(dataDir, 'redis');
  const pgDir = join(dataDir, 'postgres');
  const started: ServiceSet = { redis: only.redis && !embeddedRedisRunning(dataDir), postgres: only.postgres && !postgresRunning(pgDir) };
  const ports: ServicesFile = {
    redisPort: known && !started.redis ? known.redisPort
      : masters ? 0 : await pickPort(known?.redisPort ?? options.ports?.redisPort ?? preferredPorts.redis),
    postgresPort: known && !started.postgres ? known.postgresPort : await pickPort(known?.postgresPort ?? options.ports?.postgresPort ?? preferredPorts.postgres),
    ...(masters ? { redisCluster: masters } : {}),
  };
  const maxmemoryBytes = options.maxmemoryBytes ?? defaultRedisMaxmemoryBytes();
  const results = await Promise.allSettled([
    started.redis && masters ? (async () => {
      // Each master holds its share of the partitions; its replica the same again.
      const url = await startEmbeddedCluster({ dir: clusterDir(dataDir), masters, appendfsync: options.appendfsync,
        maxmemoryBytes: Math.max(64 * mib, Math.floor(maxmemoryBytes / masters / mib) * mib), nodeTimeoutMs: options.clusterNodeTimeoutMs });
      ports.redisPort = Number(new URL(url.url).port);
    })() : null,
    started.redis && !masters ? startOnPort(ports.redisPort, () => redisRunning(redisDir), async (port) => {
      await startRedis({ dir: redisDir, port, appendfsync: options.appendfsync, maxmemoryBytes });
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
  const timeoutMs = options.fast ? 3_000 : undefined;
  await Promise.all([
    // Whichever the data dir has (each is a no-op when absent), also a cluster whose creation failed half way.
    only.redis ? stopRedis(join(dir, 'redis'), timeoutMs) : null,
    only.redis ? stopEmbeddedCluster(clusterDir(dir), timeoutMs) : null,
    only.postgres ? stopPostgres(join(dir, 'postgres'), options.fast ? 'immediate' : 'fast') : null,
  ]);
  if (options.remove) rmSync(dir, { recursive: true, force: true });
}
