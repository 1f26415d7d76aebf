import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { connectRedis } from '../../app/redis.ts';
import { findLocalServices, stopLocalServices } from '../../services/local.ts';
import { freePort, waitForHttp } from '../../services/process.ts';
import { serviceSettings } from '../../settings/views.ts';
import { connectDb, type Sql } from '../../store/db.ts';
import type { Scratch } from '../scratch.ts';

/**
 * The server a benchmark measures: `stockade start` in its own process group
 * (API, write-through workers, sweeps), on its own embedded redis-server and
 * PostgreSQL in the scratch dir, or on REDIS_URL and DATABASE_URL when both are
 * set. The benchmark's own clients (INFO, counts, lag) use the same services.
 */
export interface Stack {
  base: string;
  adminToken: string;
  clientToken: string;
  /** The environment the server runs with: `stockade reconcile …` run with it finds the same services. */
  env: NodeJS.ProcessEnv;
  redisUrl: string;
  databaseUrl: string;
  /** Embedded (started for this run) or given by URL. */
  embedded: boolean;
  /** A Cluster client when the server runs on a Redis Cluster. */
  redis: Redis | Cluster;
  sql: Sql;
}

export interface StackOptions {
  processes: number;
  /** Settings for the server beyond the benchmark profile (e.g. STOCKADE_PARTITIONS; REDIS_URL and DATABASE_URL: services given). */
  env?: Record<string, string>;
}

/** How long a server (and its services) may take to start answering /readyz. */
const startTimeoutMs = 120_000;

/** Starts the server; everything it started is stopped when the scratch dir goes. */
export async function startStack(scratch: Scratch, o: StackOptions): Promise<Stack> {
  const given = serviceSettings({ ...process.env, ...o.env });
  const embedded = !(given.redisUrl && given.databaseUrl);
  if (!embedded) await refuseUsedDatabase(given.databaseUrl!);
  const port = await freePort();
  const adminToken = randomBytes(24).toString('base64url');
  const clientToken = randomBytes(24).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    STOCKADE_LOG_LEVEL: 'warn', // unless the environment says otherwise
    ...process.env, ...o.env, PORT: String(port), STOCKADE_HOST: '127.0.0.1', STOCKADE_DATA_DIR: scratch.dir,
    STOCKADE_API_PROCESSES: String(o.processes), STOCKADE_ADMIN_TOKEN: adminToken, STOCKADE_CLIENT_TOKEN: clientToken,
    STOCKADE_BENCH_ROUTES: 'true',
    // The benchmark profile measures the engine: rate limits off, whatever NODE_ENV says (they are on in production).
    STOCKADE_RATE_LIMIT_TOKEN_PER_S: '0', STOCKADE_RATE_LIMIT_USER_PER_S: '0',
    // Given services: the server's Redis keys under a prefix of the run's own, so nothing the
    // benchmark does (the scale scenario moves its scripts' clock) reaches anyone else's keys.
    ...(embedded ? { REDIS_URL: '', DATABASE_URL: '' } : { STOCKADE_KEY_PREFIX: o.env?.STOCKADE_KEY_PREFIX ?? `bench-${randomBytes(4).toString('hex')}:` }),
  };
  // Registered first, so it runs last: whatever the server left running under its data dir.
  if (embedded) scratch.atRemoval(() => stopLocalServices(scratch.dir));
  const server = spawn(process.execPath, [fileURLToPath(new URL('../../bin/stockade.mjs', import.meta.url)), 'start'],
    { env, stdio: ['ignore', 'ignore', 'inherit'] });
  scratch.atRemoval(() => stopChild(server));
  const base = `http://127.0.0.1:${port}`;
  await Promise.race([waitForHttp(`${base}/readyz`, startTimeoutMs), exitOf(server)]);
  if (o.processes > 1) await placeholderGone(server.pid!, port);
  const urls = embedded ? findLocalServices(scratch.dir) : { redisUrl: given.redisUrl!, databaseUrl: given.databaseUrl! };
  if (!urls) throw new Error('the server is up but its embedded services are not found in its data dir');
  const redis = await connectRedis(urls.redisUrl, 'stockade-bench', serviceSettings(env).redisCluster);
  const sql = connectDb(urls.databaseUrl, { max: 2 });
  scratch.atRemoval(async () => {
    redis.disconnect();
    await sql.end({ timeout: 5 });
  });
  return { base, adminToken, clientToken, env, redisUrl: urls.redisUrl, databaseUrl: urls.databaseUrl, embedded, redis, sql };
}

/**
 * A given database must be the benchmark's alone: verify compares every product
 * in PostgreSQL with Redis, and the benchmark's Redis keys are its own.
 */
async function refuseUsedDatabase(databaseUrl: string): Promise<void> {
  const sql = connectDb(databaseUrl, { max: 1 });
  try {
    const [t] = await sql<Array<{ name: string | null }>>`select to_regclass('products')::text as name`;
    const products = t?.name ? Number((await sql`select count(*)::int as n from products`)[0]!.n) : 0;
    if (products > 0) {
      throw new Error(`DATABASE_URL holds ${products} products: give the benchmark an empty database of its own (its checks compare every product with its Redis)`);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * With several API processes, the primary holds the port with a placeholder
 * (answering 503 "starting") until every API process listens, and an API
 * process answers /readyz before the primary has closed it: waits until no
 * socket listening on the port belongs to the primary (`ss`; skipped where it
 * is missing).
 */
async function placeholderGone(primaryPid: number, port: number): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    let listeners: string;
    try {
      listeners = execFileSync('ss', ['-Hltnp', `( sport = :${port} )`], { encoding: 'utf8' });
    } catch {
      return;
    }
    if (!listeners.includes(`pid=${primaryPid},`)) return;
    if (Date.now() > deadline) throw new Error(`the start placeholder still holds port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rejects when the server exits before it answers (its stderr, inherited, says why). */
function exitOf(child: ChildProcess): Promise<never> {
  return new Promise((_, reject) => child.once('exit', (code, signal) => reject(new Error(`stockade start exited (${signal ?? code}) before it was ready`))));
}

/** SIGTERM, and the exit awaited (it may have exited already: a Ctrl-C reaches it too). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** A JSON request to the server with a token; the status and the parsed body. */
export async function call(stack: Stack, method: string, path: string, body?: unknown, o: { admin?: boolean; headers?: Record<string, string> } = {})
  : Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${stack.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${o.admin ? stack.adminToken : stack.clientToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}
