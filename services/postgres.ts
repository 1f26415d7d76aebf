import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StockadeError } from '../engine/index.ts';
import { dataDirMode, privateDir, readPrivateFile, replacePrivateFile, secretFile, serviceDir } from './private-files.ts';
import { asServiceUser, isAlive, run, serviceUserIds, waitForPort } from './process.ts';
import type { LocalService } from './redis.ts';

export interface LocalPostgresOptions {
  /** The data directory (created; owned by the postgres OS user when run as root). */
  dir: string;
  port: number;
  /** Throwaway data (tests): no fsync, so start-up and writes are fast. */
  ephemeral?: boolean;
  /**
   * Tests only, at initdb: the application role may create databases and connect to any
   * (the suite gives each test file a database of its own). Otherwise only to its own.
   */
  anyDatabase?: boolean;
}

/** The application role: LOGIN with a generated password, owns its database, no superuser. */
export const localDbUser = 'stockade';
export const localDatabase = 'stockade';
/** The bootstrap superuser: pg_hba.conf admits it from nowhere (an operator uses single-user mode as the postgres OS user). */
export const localDbSuperuser = 'postgres';
const osUser = 'postgres';

/** The application role's password, 0600, in the server's data dir (made at initdb). */
export function postgresPasswordFile(dir: string): string {
  return join(dir, 'stockade.password');
}

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

/** initdb and the server refuse root: as root they run as the postgres OS user (under umask 077). */
async function pg(bin: string, args: string[], input?: string): Promise<string> {
  const owner = serviceUserIds(osUser, 'PostgreSQL');
  const [cmd, argv] = asServiceUser(owner ? osUser : null, join(postgresBinDir(), bin), args);
  try {
    const running = run(cmd, argv, { cwd: '/' });
    if (input !== undefined) running.child.stdin!.end(input);
    const { stdout, stderr } = await running;
    // Single-user mode goes on after a failed statement and exits 0: its errors are on stderr.
    if (input !== undefined && /^(ERROR|FATAL|PANIC):/m.test(stderr)) throw Object.assign(new Error('statement failed'), { stderr });
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new StockadeError('SERVICE_FAILED', `${bin} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

/**
 * The application's URL for the PostgreSQL under dir: its role and password.
 * A data dir an older Stockade made (trust authentication, the bootstrap
 * superuser named stockade, no password file) is refused: it let in anyone on
 * this machine as superuser.
 */
export function postgresUrl(dir: string, port: number): string {
  if (!existsSync(join(dir, 'PG_VERSION'))) throw new StockadeError('SERVICE_FAILED', `no PostgreSQL data in ${dir}: start it first (stockade services up)`);
  if (!existsSync(postgresPasswordFile(dir))) {
    throw new StockadeError('SERVICE_FAILED', `the PostgreSQL data in ${dir} was made by an older Stockade: it admits any local account as `
      + 'its superuser (trust authentication), and this Stockade does not run it. To keep its data: with it running, '
      + `pg_dump -h 127.0.0.1 -p ${port} -U stockade stockade > stockade.sql, stop it (pg_ctl stop -D ${dir}, as its OS user), move ${dir} away, `
      + `start Stockade (it makes a new one) and load the dump with psql as the stockade role; with no data to keep: stop it and remove ${dir}`);
  }
  return `postgres://${localDbUser}:${readPrivateFile(postgresPasswordFile(dir)).trim()}@127.0.0.1:${port}/${localDatabase}`;
}

/** pg_hba.conf: the application role only, to its database only, over the private socket dir and loopback only, by password. */
function hbaText(anyDatabase: boolean): string {
  const database = anyDatabase ? 'all' : localDatabase;
  return [
    '# Written by Stockade (services/postgres.ts): only the application role, only to its database,',
    '# only over the socket in this (0700) directory and loopback, only with its password (scram-sha-256).',
    '# The bootstrap superuser is admitted from nowhere: use single-user mode as the postgres OS user.',
    `local  ${database}  ${localDbUser}                scram-sha-256`,
    `host   ${database}  ${localDbUser}  127.0.0.1/32  scram-sha-256`,
    '',
  ].join('\n');
}

/**
 * Makes a new data dir at dir: initdb (bootstrap superuser postgres, which no
 * rule of pg_hba.conf admits), then, in single-user mode (no network, the
 * password on stdin, never on a command line), the application role and its
 * database. Built beside dir and renamed into place when complete, so a dir
 * with PG_VERSION is always a finished one.
 */
async function initPostgres(options: LocalPostgresOptions, owner: { uid: number; gid: number } | null): Promise<void> {
  const { dir } = options;
  const parent = dirname(dir);
  const prefix = `${basename(dir)}.init-`;
  if (!existsSync(parent)) privateDir(parent, dataDirMode()); // (an existing one, /tmp say, is not Stockade's to change)
  for (const name of readdirSync(parent)) {
    // A build a crashed start left behind.
    if (name.startsWith(prefix) && !isAlive(Number(name.slice(prefix.length)))) rmSync(join(parent, name), { recursive: true, force: true });
  }
  const building = join(parent, `${prefix}${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  serviceDir(building, owner, { tighten: false });
  try {
    await pg('initdb', ['-D', building, '-U', localDbSuperuser, '--auth=reject', '-E', 'UTF8', '--locale=C', ...(options.ephemeral ? ['-N'] : [])]);
    replacePrivateFile(join(building, 'pg_hba.conf'), hbaText(options.anyDatabase ?? false), owner ?? undefined);
    const password = secretFile(postgresPasswordFile(building)).value;
    await pg('postgres', ['--single', '-D', building, ...(options.ephemeral ? ['-c', 'fsync=off'] : []), 'postgres'], [
      `CREATE ROLE ${localDbUser} LOGIN NOSUPERUSER NOCREATEROLE ${options.anyDatabase ? 'CREATEDB' : 'NOCREATEDB'} PASSWORD '${password}'`,
      `CREATE DATABASE ${localDatabase} OWNER ${localDbUser}`,
      '',
    ].join('\n'));
    if (existsSync(dir)) rmdirSync(dir); // an empty dir made for it (a non-empty one fails here, untouched)
    renameSync(building, dir);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Starts a private PostgreSQL under dir (made on first use), listening on
 * 127.0.0.1:port and on a socket in dir only, and returns the application's
 * URL (role stockade with its password). pg_ctl daemonizes the server;
 * postmaster.pid holds its pid.
 */
export async function startPostgres(options: LocalPostgresOptions): Promise<LocalService> {
  const { dir, port } = options;
  const owner = serviceUserIds(osUser, 'PostgreSQL');
  if (existsSync(join(dir, 'PG_VERSION'))) {
    postgresUrl(dir, port); // refuses an older Stockade's data dir before it runs
    serviceDir(dir, owner, { tighten: false });
  } else {
    await initPostgres(options, owner);
  }
  const serverOptions = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=200',
    ...(options.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : [])];
  await pg('pg_ctl', ['-D', dir, '-l', join(dir, 'server.log'), '-o', serverOptions.join(' '), '-w', '-t', '60', 'start']);
  await waitForPort(port, 'postgres');
  return { url: postgresUrl(dir, port), pid: postgresPid(dir), port };
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
