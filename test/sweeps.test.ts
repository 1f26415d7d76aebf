import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Engine } from '../engine/index.ts';
import { bullConnection } from '../workers/bull.ts';
import { startSweeps } from '../workers/run.ts';
import { sweepQueueName, sweeps as sweepTable, type SweepResult } from '../workers/sweeps.ts';
import { call, freshDatabase, testApi, waitFor } from './support/api.ts';
import { advanceClock, testEngine } from './support/engine.ts';

// The sweeps as BullMQ job schedulers: once per interval across every worker
// process, and a pass cut short by a killed process finished by another.
const children: ChildProcess[] = [];
afterAll(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });

interface Completed {
  jobId: string;
  name: string;
  /** The scheduler's slot: when the job was due (its id is repeat:<sweep>:<slot>). */
  slotMs: number;
  result: SweepResult;
}

/** Every sweep job completed on this key prefix's queue, as they come, in every process (BullMQ's events stream). */
async function watchSweeps(keyPrefix: string) {
  const connection = bullConnection(inject('redisUrl'), 'test-sweeps');
  const prefix = `${keyPrefix}{bull}`;
  const events = new QueueEvents(sweepQueueName, { connection, prefix });
  const queue = new Queue(sweepQueueName, { connection, prefix });
  const completed: Completed[] = [];
  events.on('completed', ({ jobId, returnvalue }) => {
    const m = /^repeat:([^:]+):(\d+)$/.exec(jobId);
    if (m) completed.push({ jobId, name: m[1]!, slotMs: Number(m[2]), result: returnvalue as unknown as SweepResult });
  });
  await events.waitUntilReady();
  return { events, queue, completed, close: async () => { await events.close(); await queue.close(); } };
}

function spawnWorkers(env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/stockade.mjs', 'workers'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function workersEnv(keyPrefix: string, more: Record<string, string>): Promise<Record<string, string>> {
  return { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(), STOCKADE_KEY_PREFIX: keyPrefix, STOCKADE_PARTITIONS: '4',
    STOCKADE_LOG_LEVEL: 'error', STOCKADE_PROVIDER_DIR: mkdtempSync(join(tmpdir(), 'stockade-provider-')), ...more };
}

/** Stops the children by SIGTERM (each within its shutdown bounds: exit 0), SIGKILL past the wait. */
async function stopAll(started: Array<{ child: ChildProcess; exited: Promise<number | null> }>): Promise<Array<number | null>> {
  return Promise.all(started.map(async ({ child, exited }) => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.kill('SIGTERM');
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }));
}

describe('sweeps across worker processes', () => {
  it('two `stockade workers`: each sweep runs once per interval, not once per process', async () => {
    const keyPrefix = `sw${randomBytes(3).toString('hex')}:`;
    const intervals = { expire: 200, overdue: 300 };
    const env = await workersEnv(keyPrefix, { STOCKADE_SWEEP_INTERVAL_MS: String(intervals.expire),
      STOCKADE_OVERDUE_SWEEP_INTERVAL_MS: String(intervals.overdue) });
    const watch = await watchSweeps(keyPrefix);
    const started = [spawnWorkers(env), spawnWorkers(env)];
    try {
      const pids = new Set(started.map((s) => s.child.pid));
      // Both processes take sweep jobs (each job goes to one of them) ...
      await waitFor(async () => new Set(watch.completed.map((c) => c.result.pid).filter((p) => pids.has(p))).size === 2
        && watch.completed.filter((c) => c.name === 'expire').length >= 30 && watch.completed.filter((c) => c.name === 'overdue').length >= 20,
      60_000, 'sweep jobs completed by both processes');
      for (const name of ['expire', 'overdue'] as const) {
        const runs = watch.completed.filter((c) => c.name === name);
        // ... each job once (no job id completed twice), each a pass (none skipped) ...
        expect(new Set(runs.map((c) => c.jobId)).size).toBe(runs.length);
        expect(runs.filter((c) => c.result.skipped !== undefined)).toEqual([]);
        // ... and one job per slot, the slots an interval apart: over the span they cover, at most one run per
        // interval (two processes each sweeping on their own would make two).
        const slots = runs.map((c) => c.slotMs).sort((a, b) => a - b);
        for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBeGreaterThanOrEqual(intervals[name]);
        expect(runs.length).toBeLessThanOrEqual(Math.floor((slots.at(-1)! - slots[0]!) / intervals[name]) + 1);
      }
      // The stack-wide count in Redis agrees: every run counted once, by the process that ran it.
      const { engine, close } = testEngine({ keyPrefix, partitions: 4 });
      try {
        const seen = watch.completed.filter((c) => c.name === 'expire').length;
        const stats = (await engine.sweepStats()).expire!;
        expect(stats.runs).toBeGreaterThanOrEqual(seen);
        expect(stats.runs).toBeLessThanOrEqual(seen + 2); // runs that ended after the last event read
        expect(stats.failed).toBe(0);
      } finally {
        await close();
      }
      // SIGTERM: each stops cleanly within its bounds.
      expect(await stopAll(started)).toEqual([0, 0]);
    } finally {
      await stopAll(started);
      await watch.close();
    }
  }, 120_000);

  it('the process running a sweep is killed mid-pass: another finishes it, due holds expired within two intervals', async () => {
    const keyPrefix = `sk${randomBytes(3).toString('hex')}:`;
    const intervalMs = 2_000;
    const holds = 3_000;
    // One SKU: one partition's expiry, in steps of a few holds (STOCKADE_EXPIRE_WORK_MAX), so a pass takes a while.
    const env = await workersEnv(keyPrefix, { STOCKADE_SWEEP_INTERVAL_MS: String(intervalMs), STOCKADE_OVERDUE_SWEEP_INTERVAL_MS: '60000',
      STOCKADE_EXPIRE_WORK_MAX: '4', STOCKADE_SWEEP_BUDGET_MS: '60000', STOCKADE_WORKER_LOCK_MS: '30000' });
    const { engine, close } = testEngine({ keyPrefix, partitions: 4, inflightMax: 1_000_000 });
    const watch = await watchSweeps(keyPrefix);
    const started = [spawnWorkers(env), spawnWorkers(env)];
    try {
      await engine.createProduct({ sku: 'SK-1', name: 'k', priceCents: 100, stock: holds });
      for (let done = 0; done < holds; done += 500) {
        await Promise.all(Array.from({ length: 500 }, async (_, i) => {
          const out = await engine.reserve({ userId: `k${done + i}`, items: [{ sku: 'SK-1', qty: 1 }] });
          if (out.kind !== 'held') throw new Error(out.kind);
        }));
      }
      // Both processes sweep (an expire job done by each), then every hold falls due at once.
      const pids = new Set(started.map((s) => s.child.pid));
      await waitFor(async () => new Set(watch.completed.filter((c) => c.name === 'expire').map((c) => c.result.pid)).size === 2,
        60_000, 'both processes sweeping');
      const dueAt = Date.now();
      await advanceClock(engine, engine.settings.holdTtlMsDefault + 1_000);

      // Kill the process running the pass that expires them, in the middle of it.
      const killed = await waitFor(async () => {
        const [active, counts] = await Promise.all([watch.queue.getActive(), engine.holdCounts()]);
        const job = active.find((j) => j.name === 'expire');
        const pid = Number(job?.processedBy?.split(':').at(-1));
        return job && pids.has(pid) && counts.expired.sweeper > 0 && counts.live.held > holds / 4 && { pid, jobId: job.id! };
      }, 30_000, 'an expire pass under way');
      const victim = started.find((s) => s.child.pid === killed.pid)!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      const atKill = await engine.holdCounts();
      expect(atKill.live.held).toBeGreaterThan(0); // it died mid-pass
      expect(atKill.expired.sweeper).toBeGreaterThan(0);

      await waitFor(async () => (await engine.holdCounts()).live.held === 0, 60_000, 'every due hold expired');
      const expiredAllBy = Date.now();
      expect((await engine.getProduct('SK-1'))!.stock).toEqual({ total: holds, available: holds, reserved: 0, sold: 0 });
      expect((await engine.holdCounts()).expired.sweeper).toBe(holds);

      // Who expired them: passes of the live process, the first of them on the slot after the killed pass's
      // (not the killed job taken over after its lock, 30 s here). The bound from the slots: the killed pass
      // was on the first slot after the holds fell due, the finishing one an interval later, both within two
      // intervals of it; every hold expired once that pass ended.
      await waitFor(async () => watch.completed.some((c) => c.name === 'expire' && c.slotMs > dueAt && (c.result.counts?.expired ?? 0) > 0),
        10_000, 'the finishing pass reported');
      const killedSlot = Number(killed.jobId.split(':').at(-1));
      const finishing = watch.completed.filter((c) => c.name === 'expire' && (c.result.counts?.expired ?? 0) > 0 && c.slotMs > dueAt);
      expect(finishing.every((c) => c.result.pid !== killed.pid)).toBe(true);
      expect(finishing.reduce((n, c) => n + c.result.counts!.expired!, 0)).toBe(atKill.live.held);
      expect(killedSlot).toBeLessThanOrEqual(dueAt + intervalMs);
      const last = finishing.at(-1)!;
      expect(last.slotMs).toBeLessThanOrEqual(dueAt + 2 * intervalMs);
      expect(finishing[0]!.slotMs).toBe(killedSlot + intervalMs);
      // In wall-clock terms: expired within two intervals, plus that pass's own time.
      expect(expiredAllBy - dueAt).toBeLessThanOrEqual(2 * intervalMs + last.result.ms! + 1_500); // + the job's start and this poll, late on a loaded machine
      console.log(`sweeps: ${holds} holds due at t=0; pass killed at slot t=${killedSlot - dueAt} ms; finished by the pass of slot `
        + `t=${last.slotMs - dueAt} ms (${last.result.ms} ms); all expired by t=${expiredAllBy - dueAt} ms (interval ${intervalMs} ms)`);
    } finally {
      await stopAll(started);
      await watch.close();
      await close();
    }
  }, 120_000);
});

describe('sweeps in one process', () => {
  it('expiry and overdue payments counted in GET /metrics; a scheduler Redis lost is made again; a clean stop', async () => {
    const api = await testApi({ workers: {}, engine: { sweepIntervalMs: 100, overdueSweepIntervalMs: 100 }, api: { paymentTimeoutMs: 300 } });
    const sweeps = await startSweeps(api.runtime, inject('redisUrl'), { lockMs: 2_000 });
    const engine: Engine = api.runtime.engine;
    try {
      await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'SM-1', name: 's', price_cents: 100, stock: 10 } });
      const hold = async (key: string, qty: number) => {
        const r = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: key, items: [{ sku: 'SM-1', qty }] }, headers: { 'idempotency-key': key } });
        expect(r.status).toBe(201);
        return r.body.id as string;
      };
      await hold('left', 2);
      const paying = await hold('paying', 1);
      expect((await call(api.url, 'POST', `/v1/reservations/${paying}/confirm`, { body: { payment: { token: 'tok_timeout' } } })).status).toBe(202);
      await advanceClock(engine, Math.max(engine.settings.holdTtlMsDefault, engine.settings.paymentWindowMs) + 1_000);
      const metric = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      const text = await waitFor(async () => {
        const t = (await call(api.url, 'GET', '/metrics', { token: 'admin' })).body as string;
        return metric(t, 'stockade_sweep_holds_expired_total{sweep="expire"}') === 1
          && metric(t, 'stockade_sweep_payments_finished_total{sweep="overdue",outcome="committed"}') === 1 && t;
      }, 30_000, 'the expiry and the overdue payment in the sweep metrics');
      expect(metric(text, 'stockade_sweep_runs_total{sweep="expire"}')).toBeGreaterThanOrEqual(1);
      expect(metric(text, 'stockade_sweep_runs_total{sweep="overdue"}')).toBeGreaterThanOrEqual(1);
      expect(metric(text, 'stockade_sweep_failures_total{sweep="expire"}')).toBe(0);
      expect(metric(text, 'stockade_sweep_last_duration_seconds{sweep="expire"}')).toBeGreaterThanOrEqual(0);
      expect(metric(text, 'stockade_sweep_last_run_timestamp_seconds{sweep="overdue"}')).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(metric(text, 'stockade_sweep_records_purged_total{sweep="expire"}')).toBeGreaterThanOrEqual(0);
      // The simulated provider captured the charge it did not answer in time: the overdue sweep committed it.
      expect((await call(api.url, 'GET', `/v1/reservations/${paying}`)).body.status).toBe('confirmed');

      // No backlog: passes of 100 ms intervals often outlast them here (iterations skipped), yet the queue holds at
      // most one next job per sweep, and one running or skipped per sweep and process; finished jobs are trimmed.
      const connection = bullConnection(inject('redisUrl'), 'test-sweeps');
      const queue = new Queue(sweepQueueName, { connection, prefix: `${engine.settings.keyPrefix}{bull}` });
      for (let i = 0; i < 20; i++) {
        const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'completed', 'failed');
        // Per sweep (expire, overdue, verify: the bounds counted two before verify became a sweep, and failed when all three ran at once).
        expect(counts.delayed! + counts.waiting! + counts.prioritized!).toBeLessThanOrEqual(sweepTable.length * 2);
        expect(counts.active).toBeLessThanOrEqual(sweepTable.length);
        expect(counts.completed! + counts.failed!).toBeLessThanOrEqual(sweepTable.length * 100); // finished jobs kept: the newest 100 of each state
        await new Promise((r) => setTimeout(r, 50));
      }

      // Redis lost the scheduler (FLUSHALL, a new Redis): the workers make it again.
      try {
        await queue.removeJobScheduler('expire');
        expect(await queue.getJobScheduler('expire')).toBeFalsy();
        await waitFor(async () => !!(await queue.getJobScheduler('expire')), 20_000, 'the expire scheduler made again');
        const before = (await engine.sweepStats()).expire!.runs!;
        await waitFor(async () => (await engine.sweepStats()).expire!.runs! > before, 10_000, 'expire passes again');
      } finally {
        await queue.close();
      }
    } finally {
      const stopping = Date.now();
      await sweeps.stop();
      expect(Date.now() - stopping).toBeLessThan(3 * 2_000);
      await api.close();
    }
  }, 60_000);
});
