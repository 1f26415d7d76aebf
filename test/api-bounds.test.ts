import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as server from '../api/server.ts';
import { createRuntime } from '../app/runtime.ts';
import { createLogger, fulfilsWithin } from '../engine/index.ts';
import { postgresPid, startPostgres, stopPostgres } from '../services/postgres.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { call, freshDatabase, testApi, tokens, type TestApi, waitFor } from './support/api.ts';
import { startListening } from './support/stack.ts';

// Issue #11 item 7 (bounded connections, cheap probes) and item 8 (limits on by
// default in production), on loopback, counted rather than timed.

/** Commands Redis has run in all (INFO commandstats), less the INFO calls that read them. */
async function redisCalls(redis: Redis): Promise<number> {
  const text = await redis.info('commandstats');
  let calls = 0;
  for (const [, name, n] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (name !== 'info') calls += Number(n);
  return calls;
}

const readinessChecks = (api: TestApi) => (api.runtime.apiDeps() as { readiness?: { checks: number } }).readiness?.checks ?? 0;

describe('/readyz under a flood: no Redis or SQL work per call', () => {
  // A Redis and a PostgreSQL of this file's own: their command counts and statement log are this API's alone.
  const redisDir = mkdtempSync(join(tmpdir(), 'stockade-bounds-redis-'));
  const pgDir = mkdtempSync(join(tmpdir(), 'stockade-bounds-pg-'));
  const partitions = 4;
  let api: TestApi;
  let counter: Redis;

  /** Statements PostgreSQL logged (log_statement = all) that contain `text`. */
  const logged = (text: string) => {
    const log = join(pgDir, 'server.log');
    return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((line) => line.includes(text)).length : 0;
  };

  beforeAll(async () => {
    const [redisPort, pgPort] = await Promise.all([freePort(), freePort()]);
    const [redis, pg] = await Promise.all([startRedis({ dir: redisDir, port: redisPort }), startPostgres({ dir: pgDir, port: pgPort, ephemeral: true })]);
    // Every statement into the server's log: a `select 1` per probe would show there.
    appendFileSync(join(pgDir, 'postgresql.conf'), "\nlog_statement = 'all'\n");
    process.kill(postgresPid(pgDir), 'SIGHUP');
    counter = new Redis(redis.url, { maxRetriesPerRequest: 2 });
    api = await testApi({ redisUrl: redis.url, databaseUrl: pg.url, workers: false, engine: { partitions }, api: { readinessRefreshMs: 200 } });
    const marker = `bounds_marker_${randomBytes(4).toString('hex')}`;
    await waitFor(async () => {
      await api.runtime.sql.unsafe(`select '${marker}'`);
      return logged(marker) > 0;
    }, 30_000, 'PostgreSQL logging every statement');
  }, 120_000);
  afterAll(async () => {
    counter?.disconnect();
    if (api) await fulfilsWithin(api.close(), 30_000);
    await Promise.all([stopRedis(redisDir), stopPostgres(pgDir)]);
  }, 60_000);

  it('2,000 probes cost Redis only the background checks made meanwhile, and PostgreSQL no statement', async () => {
    await waitFor(async () => (await call(api.url, 'GET', '/readyz', { token: 'admin' })).body.status === 'ready', 20_000, 'ready');
    const callsBefore = await redisCalls(counter);
    const selectsBefore = logged('select 1');
    const checksBefore = readinessChecks(api);
    const probes = 2_000;
    const bodies: unknown[] = [];
    for (let i = 0; i < probes; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) =>
        call(api.url, 'GET', '/readyz', { token: (i + j) % 10 === 0 ? 'admin' : null })));
      for (const r of batch) if (r.body.reasons === undefined) bodies.push(r.body);
      expect(batch.every((r) => r.status === 200)).toBe(true);
    }
    const checks = readinessChecks(api) - checksBefore;
    const calls = (await redisCalls(counter)) - callsBefore;
    // A check: PING, INFO memory, an XLEN of each partition's outbox and of its parked stream, and the
    // fencing marker's read once it exists. Two checks more than counted: one in flight at each end.
    const perCheck = 2 * partitions + 4;
    expect({ calls, bounded: calls <= (checks + 2) * perCheck }).toEqual({ calls, bounded: true });
    expect(calls).toBeLessThan(probes / 10);
    // The statements of checks made meanwhile are all PostgreSQL saw (one `select 1` each).
    const selects = logged('select 1') - selectsBefore;
    expect({ selects, bounded: selects <= checks + 2 }).toEqual({ selects, bounded: true });
    // Unauthenticated (and client-token) callers learn only the status.
    expect(bodies.length).toBe(probes * 0.9);
    expect(new Set(bodies.map((b) => JSON.stringify(b)))).toEqual(new Set([JSON.stringify({ status: 'ready' })]));
  }, 120_000);

  it('/metrics reads the same state: a scrape adds no readiness check, and shows the status', async () => {
    const scrape = await call(api.url, 'GET', '/metrics', { token: 'admin' });
    expect(scrape.status).toBe(200);
    expect(scrape.body).toMatch(/^stockade_readiness_status\{status="ready"\} 1$/m);
    expect(scrape.body).toMatch(/^stockade_readiness_reason\{reason="postgres_unreachable"\} 0$/m);
  });
});

describe('the connection cap and the ops listener', () => {
  const cap = 20;
  let api: TestApi;
  let ops: server.ApiServer | null = null;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    api = await testApi({ workers: false, api: { connectionsMax: cap } });
    ops = await server.startOps(api.runtime.apiDeps(), 0, '127.0.0.1');
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await ops?.close(1_000);
    await api?.close();
  });

  it(`with a cap of ${cap}, of 60 sockets at most ${cap} stay open (the rest are closed at once); the ops listener answers meanwhile`, async () => {
    const port = Number(new URL(api.url).port);
    let closed = 0;
    let connected = 0;
    for (let i = 0; i < 60; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('connect', () => { connected += 1; });
      s.on('close', () => { closed += 1; });
      sockets.push(s);
    }
    await waitFor(async () => connected + closed >= 60 && closed >= 60 - cap, 30_000, `${60 - cap} sockets closed by the server`);
    const open = sockets.filter((s) => !s.destroyed).length;
    expect(open).toBeLessThanOrEqual(cap);
    expect(api.server.connections).toMatchObject({ max: cap, refused: 60 - cap });
    expect(api.server.connections.open).toBeLessThanOrEqual(cap);

    // The API port is saturated: a new connection is closed unanswered.
    await expect(fetch(`${api.url}/healthz`)).rejects.toThrow();
    // The ops listener is not: readiness with its detail, and metrics, without a token.
    const opsUrl = `http://127.0.0.1:${ops!.port}`;
    const ready = await call(opsUrl, 'GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', reasons: [], checks: { redis: 'ok', postgres: 'ok' } });
    const metrics = await call(opsUrl, 'GET', '/metrics', { token: null });
    expect(metrics.status).toBe(200);
    const refused = Number(/^stockade_connections_refused_total\{listener="api"\} (\d+)$/m.exec(metrics.body)?.[1]);
    expect(refused).toBeGreaterThanOrEqual(60 - cap);
    expect(metrics.body).toMatch(/^stockade_connections_open\{listener="ops"\} [1-9]\d*$/m);
    // The ops listener has no other route.
    expect((await call(opsUrl, 'POST', '/v1/products', { token: 'admin', body: {} })).status).toBe(404);

    // Once the sockets close, the API answers again.
    for (const s of sockets) s.destroy();
    await waitFor(async () => api.server.connections.open === 0, 30_000, 'the server saw the sockets close');
    expect((await call(api.url, 'GET', '/healthz')).status).toBe(200);
  }, 60_000);
});

describe('limits on by default in production (NODE_ENV=production, nothing else set)', () => {
  let base: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const runtime = await createRuntime({
      redisUrl: inject('redisUrl'),
      databaseUrl: await freshDatabase(),
      env: { NODE_ENV: 'production', STOCKADE_ADMIN_TOKEN: tokens.admin, STOCKADE_CLIENT_TOKEN: tokens.client,
        STOCKADE_KEY_PREFIX: `prod${randomBytes(4).toString('hex')}:` },
      log: createLogger('test', 'silent'),
      providerDir: mkdtempSync(join(tmpdir(), 'stockade-provider-')),
    });
    const api = await server.startApi(runtime.apiDeps(), 0, '127.0.0.1');
    base = `http://127.0.0.1:${api.port}`;
    close = async () => {
      await api.close(1_000);
      await runtime.close();
    };
    const created = await call(base, 'POST', '/v1/products', { token: 'admin', body: { sku: 'PROD-1', name: 'p', price_cents: 100, stock: 1_000, per_user_limit: 1_000 } });
    expect(created.status).toBe(201);
  }, 60_000);
  afterAll(async () => close?.());

  const reserve = (key: string, body: Record<string, unknown>) =>
    call(base, 'POST', '/v1/reservations', { body: { items: [{ sku: 'PROD-1', qty: 1 }], ...body }, headers: { 'idempotency-key': key } });

  it('429 past the per-user rate limit (5 reservations per second): 12 at once for one user', async () => {
    const tag = randomBytes(3).toString('hex');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => reserve(`${tag}-${i}`, { user_id: `shopper-${tag}` })));
    const statuses = answers.map((a) => a.status);
    // A burst may straddle a one-second window: at most 2 x 5 pass.
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    const limited = answers.find((a) => a.status === 429)!;
    expect(limited.body.type).toBe('/problems/rate-limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another shopper is not slowed by the first.
    expect((await reserve(`${tag}-other`, { user_id: `other-${tag}` })).status).toBe(201);
  });

  it('422 for a hold of an hour: at most 15 minutes (900,000 ms) by default', async () => {
    const tag = randomBytes(3).toString('hex');
    const hour = await reserve(`${tag}-h`, { user_id: `u-${tag}`, ttl_ms: 3_600_000 });
    expect([hour.status, hour.body.type]).toEqual([422, '/problems/invalid-request']);
    expect((await reserve(`${tag}-q`, { user_id: `v-${tag}`, ttl_ms: 900_000 })).status).toBe(201);
  });
});

describe('the ops listener of a stack with STOCKADE_API_PROCESSES=2 (run by the primary)', () => {
  let child: ChildProcess | null = null;
  afterAll(() => { child?.kill('SIGKILL'); });

  it('answers /readyz with its detail and the whole stack\'s /metrics, without a token; stops with the stack', async () => {
    const [port, opsPort] = await Promise.all([freePort(), freePort()]);
    const started = await startListening(port, { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(),
      STOCKADE_API_PROCESSES: '2', STOCKADE_OPS_PORT: String(opsPort), STOCKADE_KEY_PREFIX: `ops${port}:`, STOCKADE_ADMIN_TOKEN: tokens.admin,
      STOCKADE_CLIENT_TOKEN: tokens.client, STOCKADE_PROVIDER_DIR: mkdtempSync(join(tmpdir(), 'stockade-provider-')) });
    child = started.child;
    const ops = `http://127.0.0.1:${opsPort}`;
    await waitFor(async () => (await call(ops, 'GET', '/readyz', { token: null })).body.status === 'ready', 30_000, 'ops /readyz ready');
    expect((await call(ops, 'GET', '/readyz', { token: null })).body).toMatchObject({ reasons: [], checks: { redis: 'ok', postgres: 'ok' } });
    expect((await call(ops, 'GET', '/healthz', { token: null })).status).toBe(200);
    // The API port still wants the admin token for metrics; the ops listener does not, and its scrape is the stack's.
    expect((await call(`http://127.0.0.1:${port}`, 'GET', '/metrics', { token: null })).status).toBe(401);
    const scrape = await call(ops, 'GET', '/metrics', { token: null });
    expect(scrape.status).toBe(200);
    expect(scrape.body).toMatch(/^stockade_metrics_processes\{state="answered"\} 3$/m);
    expect(scrape.body).toMatch(/^stockade_readiness_status\{status="ready"\} 1$/m);
    child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
    await expect(fetch(`${ops}/healthz`)).rejects.toThrow();
  }, 120_000);
});
