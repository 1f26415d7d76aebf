import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { expect, inject, it } from 'vitest';
import { partitionKeys, partitionOf } from '../../engine/index.ts';
import { freshDatabase } from '../../test/support/api.ts';
import { withScratch } from '../scratch.ts';
import { conserved, equal, onlyStatuses, stockOf, verifyCheck, verifyStores } from './checks.ts';
import { createProduct, oneLineBody, reserving, type SuiteContext } from './context.ts';
import { runLoad } from './load.ts';
import { startStack } from './stack.ts';
import { evaluateTargets } from './targets.ts';
import type { LoadRun, ScenarioResult } from './types.ts';

/**
 * The benchmark suite's instruments on a real server (`stockade start` on the
 * suite's Redis and a fresh PostgreSQL database): a small load run is measured,
 * the checks pass on honest stores and fail on a tampered counter.
 */
it('a load run is measured and checked; a tampered counter fails the invariant checks', async () => {
  const prefix = `bs${randomBytes(3).toString('hex')}:`;
  const env = { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(), STOCKADE_KEY_PREFIX: prefix, STOCKADE_LOG_LEVEL: 'error' };
  await withScratch('stockade-suite-test-', async (scratch) => {
    const stack = await startStack(scratch, { processes: 1, env });
    const ctx: SuiteContext = { quick: true, connections: 4, seconds: 1, warmupSeconds: 0, processes: 1, stack, prefix: 't-', report: () => {} };
    const sku = 't-SKU';
    await createProduct(ctx, sku, 20);
    const counter = { n: 0 };
    const { run } = await runLoad({ label: 'small', url: stack.base, connections: 4, seconds: 1, redis: stack.redis,
      requests: () => [reserving(ctx, { keyPrefix: 't-k', counter, body: (n) => oneLineBody(`t-u${n}`, sku) })] });
    expect(run.statuses['201']).toBe(20); // each unit once: then sold out
    expect(run.statuses['409']).toBeGreaterThan(0);
    expect(run.requests).toBe(run.statuses['201']! + run.statuses['409']!);
    expect(run.serverCpuUsPerRequest).toBeGreaterThan(0);
    expect(run.generatorCpuUsPerRequest).toBeGreaterThan(0);
    expect(run.redisCpuUsPerRequest).toBeGreaterThan(0);
    expect(onlyStatuses(run, ['201', '409']).ok).toBe(true);
    expect(onlyStatuses(run, ['201']).ok).toBe(false);
    expect(conserved(sku, await stockOf(stack, sku))).toMatchObject({ ok: true });
    expect(await verifyStores(stack)).toMatchObject({ ok: true });

    // Four units appear from nowhere: conservation fails, and verify says so.
    const admin = new Redis(inject('redisAdminUrl'));
    try {
      await admin.hincrby(partitionKeys(prefix, partitionOf(sku, 64)).skus, `${sku}:a`, 4);
    } finally {
      admin.disconnect();
    }
    const stock = await stockOf(stack, sku);
    expect(stock.available).toBe(4);
    expect(conserved(sku, stock)).toMatchObject({ ok: false });
    const verified = await verifyStores(stack);
    expect(verified.ok).toBe(false);
    expect(verified.detail).toMatch(/conservation/);
  });
  // A given database that already holds products is not the benchmark's own: refused before anything starts.
  await withScratch('stockade-suite-test-', (scratch) =>
    expect(startStack(scratch, { processes: 1, env })).rejects.toThrow(/holds 1 products/));
}, 120_000);

it('the pure checks: statuses, equal counts, conservation, verify reports', () => {
  const run = loadRun('r', { '201': 10, '500': 1 });
  expect(onlyStatuses(run, ['201'])).toMatchObject({ ok: false });
  expect(onlyStatuses({ ...run, statuses: { '201': 10 } }, ['201'])).toMatchObject({ ok: true });
  expect(onlyStatuses({ ...run, statuses: { '201': 10 }, errors: 1 }, ['201'])).toMatchObject({ ok: false });
  expect(onlyStatuses({ ...run, statuses: {}, requests: 0 }, ['201'])).toMatchObject({ ok: false }); // nothing answered is no pass
  expect(equal('e', 3, 3, 'units').ok).toBe(true);
  expect(equal('e', 3, 4, 'units')).toMatchObject({ ok: false, detail: 'expected 3 units, found 4' });
  expect(conserved('s', { total: 10, available: 3, reserved: 2, sold: 5 }).ok).toBe(true);
  expect(conserved('s', { total: 10, available: 4, reserved: 2, sold: 5 }).ok).toBe(false);
  expect(conserved('s', { total: 10, available: -1, reserved: 6, sold: 5 }).ok).toBe(false);
  expect(conserved('s', { total: 10, available: 0, reserved: -1, sold: 11 }).ok).toBe(false); // oversold, though the sum holds
  const checked = { skus: 2, orders: 1, charges: 1, outbox: 0 };
  expect(verifyCheck({ ok: true, violations: [], checked }).ok).toBe(true);
  const bad = verifyCheck({ ok: false, violations: [{ kind: 'oversell', sku: 'X', detail: 'sold 11 > total 10' }], checked });
  expect(bad).toMatchObject({ ok: false });
  expect(bad.detail).toMatch(/oversell ×1.*X: sold 11 > total 10/);
});

it('targets are ratios of the same run, and a scenario that did not run fails its targets', () => {
  const scenario = (name: string, run: Partial<LoadRun>, figures: ScenarioResult['figures'] = {}): ScenarioResult =>
    ({ name, description: '', runs: [{ ...loadRun(name, {}), ...run }], figures, checks: [] });
  const targets = evaluateTargets([
    scenario('ceiling', { requestsPerSec: 10_000, serverCpuUsPerRequest: 40 }),
    scenario('reserve-hot', { requestsPerSec: 8_000, serverCpuUsPerRequest: 50, latencyMs: { p50: 2, p90: 4, p99: 9, max: 20 } }),
    scenario('sold-out-stampede', { requestsPerSec: 9_000, serverCpuUsPerRequest: 48 }),
    scenario('flash-sale', {}, { 'confirmed orders/s': 9_000, 'write-through lag p99 (ms)': 1_500 }),
  ]);
  const byName = Object.fromEntries(targets.map((t) => [t.name, t]));
  expect(byName['reserve-hot server CPU per reservation']).toMatchObject({ pass: true, measured: '1.25 × (50 vs 40 µs)' });
  expect(byName['sold-out-stampede server CPU per request']).toMatchObject({ pass: false }); // 1.2 × > 1.1 ×
  expect(byName['reserve-hot throughput']).toMatchObject({ pass: true }); // 0.8 ×
  expect(byName['reserve-hot p99 latency (100 connections)']).toMatchObject({ pass: true });
  expect(byName['reserve-hot throughput vs the row-lock peer']).toMatchObject({ pass: false, measured: expect.stringMatching(/not measured/) });
  expect(byName['flash-sale confirmed orders per second']).toMatchObject({ pass: true });
  expect(byName['flash-sale write-through lag p99']).toMatchObject({ pass: false });
  expect(byName['Redis memory per active hold']).toMatchObject({ pass: false, measured: expect.stringMatching(/not measured/) });
});

function loadRun(label: string, statuses: Record<string, number>): LoadRun {
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return { label, connections: 1, requests, seconds: 1, requestsPerSec: requests, latencyMs: { p50: 1, p90: 1, p99: 1, max: 1 }, statuses,
    errors: 0, timeouts: 0, serverCpuUsPerRequest: 1, generatorCpuUsPerRequest: 1 };
}
