import autocannon from 'autocannon';
import type { Cluster, Redis } from 'ioredis';
import { cpuDelta, serversCpu } from '../redis-stats.ts';
import { cpuMark, cpuSpent } from './cpu.ts';
import type { LoadRun } from './types.ts';

/**
 * One autocannon run against the server, in this process (one generator: its
 * CPU is this process's CPU). Requests are built in setupRequest (ids in
 * headers and bodies written as strings: autocannon 8 sends a wrong
 * Content-Length when it rewrites [<id>] inside a body, and its idReplacement
 * costs the generator more than the server spends).
 */
export interface LoadSpec {
  label: string;
  url: string;
  connections: number;
  /** Measured seconds at most (the run may stop earlier: stopWhen). */
  seconds: number;
  /** Unmeasured seconds first (scripts loaded, JIT warm); 0 for none. */
  warmupSeconds?: number;
  /** The request sequence each connection loops over. */
  requests: () => autocannon.Request[];
  /** Checked on every response of the measured run: true stops it. */
  stopWhen?: () => boolean;
  /** Redis to read INFO cpu from, summed over the masters of a cluster (absent: Redis CPU is not reported). */
  redis?: Redis | Cluster;
  /** Told how far along the measured run is (0..1) about 4 times a second. */
  progress?: (fraction: number, text: string) => void;
}

const progressEveryMs = 250;

/** The measured run, and the statuses the warm-up got (their effects count in the stores too). */
export interface LoadOutcome {
  run: LoadRun;
  warmupStatuses: Record<string, number>;
}

export async function runLoad(spec: LoadSpec): Promise<LoadOutcome> {
  const warmupStatuses = spec.warmupSeconds ? statusesOf(await fire(spec, spec.warmupSeconds, false)) : {};
  const redisBefore = spec.redis ? await serversCpu(spec.redis) : null;
  const before = cpuMark();
  const started = performance.now();
  const result = await fire(spec, spec.seconds, true);
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSpent(before, cpuMark());
  const redis = spec.redis && redisBefore ? cpuDelta(redisBefore, await serversCpu(spec.redis)) : null;
  const statuses = statusesOf(result);
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  const perRequestUs = (sec: number) => round((sec * 1e6) / Math.max(1, requests));
  return { warmupStatuses, run: {
    label: spec.label,
    connections: spec.connections,
    requests,
    seconds: round(seconds),
    requestsPerSec: Math.round(requests / seconds),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuUsPerRequest: perRequestUs(cpu.serverSec),
    generatorCpuUsPerRequest: perRequestUs(cpu.generatorSec),
    ...(redis ? { redisCpuUsPerRequest: perRequestUs(redis.cpuSec) } : {}),
  } };
}

function statusesOf(result: autocannon.Result): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const [code, s] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = (s as { count: number }).count;
  return statuses;
}

function fire(spec: LoadSpec, seconds: number, measured: boolean): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url: spec.url, connections: spec.connections, duration: seconds, requests: spec.requests() },
      (error, result) => (error ? reject(error) : resolve(result)));
    if (!measured) return;
    const started = Date.now();
    let responses = 0;
    let stopped = false;
    const timer = setInterval(() => {
      const elapsed = (Date.now() - started) / 1000;
      spec.progress?.(Math.min(1, elapsed / seconds), `${spec.label}: ${responses.toLocaleString('en-US')} responses`);
    }, progressEveryMs);
    instance.on('done', () => clearInterval(timer));
    instance.on('response', () => {
      responses += 1;
      if (!stopped && spec.stopWhen?.()) {
        stopped = true;
        instance.stop();
      }
    });
  });
}

function round(n: number): number {
  return n >= 10 ? Math.round(n) : Math.round(n * 10) / 10;
}
