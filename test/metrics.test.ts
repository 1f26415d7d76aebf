import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createLogger, partitionOf } from '../engine/index.ts';
import { wireMetrics } from '../app/metrics-aggregate.ts';
import { freePort } from '../services/process.ts';
import { call, freshDatabase, testApi, tokens, waitFor } from './support/api.ts';
import { skusInDistinctPartitions } from './support/engine.ts';
import { startListening } from './support/stack.ts';
import { servedBy, servingPid } from './support/serving.ts';

/** The value of each sample of a Prometheus text, by name and labels: `name{a="1",b="2"}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** The sum of a metric's samples whose labels include `labels`. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of samples(text)) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += value;
  }
  return sum;
}


describe('GET /metrics with STOCKADE_API_PROCESSES=2: one scrape shows the whole stack', () => {
  let child: ChildProcess | null = null;
  afterAll(() => { child?.kill('SIGKILL'); });

  it('totals of both API processes and of the primary (write-through, recovery) add up in one scrape', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const started = await startListening(port, { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(),
      STOCKADE_API_PROCESSES: '2', STOCKADE_KEY_PREFIX: `met${port}:`, STOCKADE_ADMIN_TOKEN: tokens.admin,
      STOCKADE_CLIENT_TOKEN: tokens.client, STOCKADE_PAYMENT_TIMEOUT_MS: '300', STOCKADE_PAYMENT_WINDOW_MS: '1000',
      STOCKADE_PROVIDER_DIR: mkdtempSync(join(tmpdir(), 'stockade-provider-')) });
    child = started.child;
    const exited = started.exited;
    // A new connection per request, so requests land on either API process.
    const ask = (method: string, path: string, o: Parameters<typeof call>[3] = {}) =>
      call(base, method, path, { ...o, headers: { ...o.headers, connection: 'close' } });
    for (const [sku, stock] of [['MA', 1_000], ['MB', 5], ['MC', 5]] as const) {
      expect((await ask('POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock } })).status).toBe(201);
    }

    // Both API processes serve (the kernel says which process serves a connection); then reservations, each on a
    // connection of its own, so both make some (all 24 on one process: about one chance in 8 million).
    const pids = new Set<number>();
    await waitFor(async () => pids.add(await servingPid(port)).size === 2, 60_000, 'both API processes answering');
    const made: { id: string }[] = [];
    for (let i = 0; i < 24; i++) {
      const r = await ask('POST', '/v1/reservations', { body: { user_id: `u${i}`, items: [{ sku: 'MA', qty: 1 }] },
        headers: { 'idempotency-key': `k${i}` } });
      expect(r.status).toBe(201);
      made.push({ id: r.body.id });
    }
    const confirmed = made.slice(0, 6);
    for (const { id } of confirmed) expect((await ask('POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } })).status).toBe(200);
    expect((await ask('POST', `/v1/reservations/${made[6]!.id}/confirm`, { body: { payment: { token: 'tok_declined' } } })).status).toBe(402);

    // Refusals: out of stock, unknown SKU, a key reused with another body (and its replay, not counted again).
    expect((await ask('POST', '/v1/reservations', { body: { user_id: 'r', items: [{ sku: 'MB', qty: 6 }] }, headers: { 'idempotency-key': 'oos' } })).status).toBe(409);
    expect((await ask('POST', '/v1/reservations', { body: { user_id: 'r', items: [{ sku: 'MB', qty: 6 }] }, headers: { 'idempotency-key': 'oos' } })).status).toBe(409);
    expect((await ask('POST', '/v1/reservations', { body: { user_id: 'r', items: [{ sku: 'NOPE', qty: 1 }] }, headers: { 'idempotency-key': 'nope' } })).status).toBe(422);
    expect((await ask('POST', '/v1/reservations', { body: { user_id: 'r2', items: [{ sku: 'MA', qty: 1 }] }, headers: { 'idempotency-key': 'k0' } })).status).toBe(422);

    // A payment the provider does not answer in time (202, pending): the primary's recovery finds it captured after the
    // payment window and commits it. A hold left to expire: the primary's sweeper expires it.
    const slow = await ask('POST', '/v1/reservations', { body: { user_id: 's', items: [{ sku: 'MB', qty: 1 }], ttl_ms: 1_000 }, headers: { 'idempotency-key': 'slow' } });
    expect((await ask('POST', `/v1/reservations/${slow.body.id}/confirm`, { body: { payment: { token: 'tok_timeout' } } })).status).toBe(202);
    expect((await ask('POST', '/v1/reservations', { body: { user_id: 'e', items: [{ sku: 'MC', qty: 2 }], ttl_ms: 1_000 }, headers: { 'idempotency-key': 'exp' } })).status).toBe(201);

    const orders = confirmed.length + 1;
    const text = await waitFor(async () => {
      const scrape = await ask('GET', '/metrics', { token: 'admin' });
      expect(scrape.status).toBe(200);
      const t = scrape.body as string;
      const done = total(t, 'stockade_writethrough_lag_seconds_count') === orders
        && total(t, 'stockade_holds_expired_total', { by: 'sweeper' }) === 1 && total(t, 'stockade_queue_depth', { queue: 'outbox' }) === 0
        && total(t, 'stockade_sweep_payments_finished_total', { outcome: 'committed' }) === 1 // the sweeps' counts, recorded once a pass ends
        && total(t, 'stockade_sweep_holds_expired_total') === 1;
      return done && t;
    }, 60_000, 'the orders written through and the short hold expired, in a scrape');

    expect(total(text, 'stockade_metrics_processes', { state: 'answered' })).toBe(3);
    expect(total(text, 'stockade_metrics_processes', { state: 'missing' })).toBe(0);
    // Counted by the two API processes, summed: every reservation made (the key's replay is a 422, not a 201).
    expect(total(text, 'stockade_http_requests_total', { route: '/v1/reservations', status: '201' })).toBe(made.length + 2);
    expect(total(text, 'stockade_refusals_total', { reason: 'out_of_stock' })).toBe(1);
    expect(total(text, 'stockade_refusals_total', { reason: 'unknown_sku' })).toBe(1);
    expect(total(text, 'stockade_refusals_total', { reason: 'key_reused' })).toBe(1);
    // Payments: the API processes' (captured, declined, pending) and the primary's recovery (the late capture).
    expect(total(text, 'stockade_payments_total', { outcome: 'captured' })).toBe(orders);
    expect(total(text, 'stockade_payments_total', { outcome: 'declined' })).toBe(1);
    expect(total(text, 'stockade_payments_total', { outcome: 'pending' })).toBe(1);
    expect(total(text, 'stockade_payments_total', { outcome: 'voided' })).toBe(0);
    // Write-through (the primary's): every order written, its lag observed.
    expect(total(text, 'stockade_writethrough_entries_total', { outcome: 'written' })).toBe(3 + orders);
    expect(total(text, 'stockade_writethrough_lag_seconds_bucket', { le: '+Inf' })).toBe(orders);
    expect(total(text, 'stockade_writethrough_lag_seconds_sum')).toBeGreaterThan(0);
    // The primary's sweeps (job schedulers run by its worker): the expiry and the late capture, counted in Redis.
    expect(total(text, 'stockade_sweep_holds_expired_total', { sweep: 'expire' })).toBe(1);
    expect(total(text, 'stockade_sweep_payments_finished_total', { sweep: 'overdue', outcome: 'committed' })).toBe(1);
    expect(total(text, 'stockade_sweep_runs_total', { sweep: 'expire' })).toBeGreaterThanOrEqual(1);
    expect(total(text, 'stockade_sweep_failures_total')).toBe(0);
        // What Redis holds, read once: holds by state, stock, the outbox drained.
    const live = made.length - confirmed.length - 1;
    expect([total(text, 'stockade_holds', { state: 'held' }), total(text, 'stockade_holds', { state: 'paying' })]).toEqual([live, 0]);
    expect(total(text, 'stockade_stock_units', { sku: 'MA', state: 'reserved' })).toBe(live);
    expect(total(text, 'stockade_stock_units', { sku: 'MA', state: 'sold' })).toBe(confirmed.length);
    expect(total(text, 'stockade_stock_units', { sku: 'MC', state: 'available' })).toBe(5);
    expect(total(text, 'stockade_outbox_entries')).toBe(0);
    // Node's process metrics, summed over the three processes.
    expect(total(text, 'stockade_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(total(text, 'stockade_process_start_time_seconds')).toBeGreaterThan(0);

    // A scrape answered by either API process shows the same totals.
    const answeredBy = new Set<number>();
    await waitFor(async () => {
      const again = await servedBy(port, 'GET', '/metrics', { authorization: `Bearer ${tokens.admin}` });
      expect(total(again.body, 'stockade_http_requests_total', { route: '/v1/reservations', status: '201' })).toBe(made.length + 2);
      answeredBy.add(again.pid);
      return answeredBy.size === 2;
    }, 30_000, 'a scrape from each API process');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = null;
  }, 120_000);
});

describe('GET /metrics of one process', () => {
  it('refusals by reason, rate limits among them; the lag of orders written through in the same process', async () => {
    const api = await testApi({ workers: {}, api: { rateLimitUserPerSec: 1 } });
    try {
      wireMetrics(api.runtime.apiDeps(), { log: createLogger('test', 'silent'), writeThrough: api.writeThrough! });
      await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'S1', name: 's', price_cents: 5, stock: 100 } });
      const reserve = (user: string, key: string) =>
        call(api.url, 'POST', '/v1/reservations', { body: { user_id: user, items: [{ sku: 'S1', qty: 1 }] }, headers: { 'idempotency-key': key } });
      const held = await reserve('a', 'a1');
      expect(held.status).toBe(201);
      let n = 0;
      await waitFor(async () => (await reserve('b', `b${++n}`)).status === 429, 30_000, 'a request over the per-user rate');
      expect((await call(api.url, 'POST', `/v1/reservations/${held.body.id}/confirm`, { body: { payment: { token: 'tok_ok' } } })).status).toBe(200);
      const text = await waitFor(async () => {
        const t = (await call(api.url, 'GET', '/metrics', { token: 'admin' })).body as string;
        return total(t, 'stockade_writethrough_lag_seconds_count') === 1 && t;
      }, 30_000, 'the order written through');
      expect(total(text, 'stockade_refusals_total', { reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
      expect(total(text, 'stockade_payments_total', { outcome: 'captured' })).toBe(1);
      expect(total(text, 'stockade_metrics_processes', { state: 'answered' })).toBe(1);
      expect(text).toMatch(/^# TYPE stockade_holds_expired_total counter$/m);
      expect(text).toMatch(/^stockade_holds\{state="held"\} \d+$/m);
    } finally {
      await api.close();
    }
  });

  it('outbox entries per partition: the 64 longest non-empty partitions only, whatever STOCKADE_PARTITIONS', async () => {
    const api = await testApi({ engine: { partitions: 256 } });
    try {
      // 70 partitions with a product event each; three of them with more (stock events): no write-through runs.
      const skus = skusInDistinctPartitions(api.runtime.engine, 'OB', 70);
      for (const sku of skus) await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 1, stock: 1 } });
      for (const sku of skus.slice(0, 3)) {
        for (let i = 0; i < 2; i++) await call(api.url, 'POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: 1 } });
      }
      const text = (await call(api.url, 'GET', '/metrics', { token: 'admin' })).body as string;
      const series = [...text.matchAll(/^stockade_outbox_entries\{partition="(\d+)"\} (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(series).toHaveLength(64);
      const longest = skus.slice(0, 3).map((sku) => partitionOf(sku, 256));
      expect(series.filter(([p]) => longest.includes(p!))).toEqual(expect.arrayContaining(longest.map((p) => [p, 3])));
      expect(total(text, 'stockade_queue_depth', { queue: 'outbox' })).toBe(76);
    } finally {
      await api.close();
    }
  });
});
