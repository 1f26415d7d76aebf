import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { StockadeError } from '../engine/index.ts';
import { isAlive, run, waitForPort } from './process.ts';
import type { LocalService } from './redis.ts';

export interface LocalPostgresOptions {
  /** The data directory (created; owned by the postgres OS user when run as root). */
  dir: string;
  port: number;
  database?: string;
  /** Throwaway data (tests): no fsync, so start-up and writes are fast. */
  ephemeral?: boolean;
}

export const localDbUser = 'stockade';

/** Folder of the PostgreSQL server binaries: pg_config --bindir, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch { /* fall through */ }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new StockadeError('SERVICE_FAILED', 'PostgreSQL server binaries not found (run npm run setup)');
  return join(root, newest, 'bin');
}

/** initdb and the server refuse root: as root they run as the postgres OS user. */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [bin, args];
  return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
}

function serverUserIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function pg(bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = asServerUser(join(postgresBinDir(), bin), args);
  try {
    return (await run(cmd, argv, { cwd: '/' })).stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new StockadeError('SERVICE_FAILED', `${bin} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

/**
 * Starts a private PostgreSQL under dir (initdb on first use), listening on
 * 127.0.0.1:port with trust auth for the local `stockade` user, and creates the
 * database. pg_ctl daemonizes the server; postmaster.pid holds its pid.
 */
export async function startPostgres(options: LocalPostgresOptions): Promise<LocalService> {
  const { dir, port } = options;
  const database = options.database ?? 'stockade';
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  const ids = serverUserIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    await pg('initdb', ['-D', dir, '-U', localDbUser, '--auth=trust', '-E', 'UTF8', '--locale=C', ...(options.ephemeral ? ['-N'] : [])]);
  }
  const serverOptions = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=200',
    ...(options.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : [])];
  await pg('pg_ctl', ['-D', dir, '-l', join(dir, 'server.log'), '-o', serverOptions.join(' '), '-w', '-t', '60', 'start']);
  await waitForPort(port, 'postgres');
  await createDatabase(port, database);
  return { url: `postgres://${localDbUser}@127.0.0.1:${port}/${database}`, pid: postgresPid(dir), port };
}

async function createDatabase(port: number, database: string): Promise<void> {
  const sql = postgres({ host: '127.0.0.1', port, user: localDbUser, database: 'postgres', max: 1, onnotice: () => {} });
  try {
    const found = await sql`select 1 from pg_database where datname = ${database}`;
    if (found.length === 0) await sql.unsafe(`create database "${database.replace(/"/g, '')}"`);
  } finally {
    await sql.end();
  }
}

export function postgresPid(dir: string): number {
  const file = join(dir, 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : 0;
}

export function postgresRunning(dir: string): boolean {
  const pid = postgresPid(dir);
  return pid > 0 && isAlive(pid);
}

/**
 * `fast`: roll back open transactions, checkpoint, exit (a clean stop).
 * `immediate`: exit at once; the next start replays the WAL (a forced stop).
 */
export async function stopPostgres(dir: string, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  if (!postgresRunning(dir)) return;
  await pg('pg_ctl', ['-D', dir, '-m', mode, '-w', '-t', '60', 'stop']);
}
