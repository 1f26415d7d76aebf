import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { dataDirSetting } from '../settings/views.ts';
import { freePort, portIsFree } from './process.ts';
import { postgresRunning, startPostgres, stopPostgres } from './postgres.ts';
import { redisRunning, startRedis, stopRedis } from './redis.ts';

/** The embedded default: a private redis-server and PostgreSQL under one data dir. */
export interface LocalServices {
  dataDir: string;
  redisUrl: string;
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
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ServicesFile) : null;
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

function urlsOf(dataDir: string, ports: ServicesFile): LocalServices {
  return {
    dataDir,
    redisUrl: `redis://127.0.0.1:${ports.redisPort}`,
    databaseUrl: `postgres://stockade@127.0.0.1:${ports.postgresPort}/stockade`,
  };
}

/** Starts what is not running yet under dataDir (reusing the ports it had) and returns the URLs. */
export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755); // the postgres OS user must be able to reach its data dir below
  const known = readServicesFile(dataDir);
  const redisDir = join(dataDir, 'redis');
  const pgDir = join(dataDir, 'postgres');
  const ports: ServicesFile = {
    redisPort: known && redisRunning(redisDir) ? known.redisPort : await pickPort(known?.redisPort ?? options.ports?.redisPort ?? preferredPorts.redis),
    postgresPort: known && postgresRunning(pgDir) ? known.postgresPort : await pickPort(known?.postgresPort ?? options.ports?.postgresPort ?? preferredPorts.postgres),
  };
  writeFileSync(join(dataDir, 'services.json'), JSON.stringify(ports));
  await Promise.all([
    redisRunning(redisDir) ? null : startRedis({ dir: redisDir, port: ports.redisPort, appendfsync: options.appendfsync,
      maxmemoryBytes: options.maxmemoryBytes ?? defaultRedisMaxmemoryBytes() }),
    postgresRunning(pgDir) ? null : startPostgres({ dir: pgDir, port: ports.postgresPort, ephemeral: options.ephemeral }),
  ]);
  return urlsOf(dataDir, ports);
}

export async function stopLocalServices(dataDir: string, options: { remove?: boolean } = {}): Promise<void> {
  const dir = resolve(dataDir);
  await Promise.all([stopRedis(join(dir, 'redis')), stopPostgres(join(dir, 'postgres'))]);
  if (options.remove) rmSync(dir, { recursive: true, force: true });
}
