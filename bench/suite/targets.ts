import type { LoadRun, ScenarioResult, TargetResult } from './types.ts';

/**
 * The targets, each from this run's figures (ratios compare scenarios
 * of the same run: the machine's noise moves both sides). A target whose
 * scenario did not produce its figure fails, saying so.
 */
export function evaluateTargets(scenarios: ScenarioResult[]): TargetResult[] {
  const run = (name: string): LoadRun | undefined => scenarios.find((s) => s.name === name)?.runs[0];
  const figure = (name: string, key: string): number | undefined => {
    const value = scenarios.find((s) => s.name === name)?.figures[key];
    return typeof value === 'number' ? value : undefined;
  };
  const ceiling = run('ceiling');
  const hot = run('reserve-hot');
  const soldOut = run('sold-out-stampede');
  const rowLock = run('row-lock-baseline');
  const expiryKey = Object.keys(scenarios.find((s) => s.name === 'scale')?.figures ?? {}).find((k) => k.startsWith('time to expire 100,000'));
  return [
    ratio('reserve-hot server CPU per reservation', '≤ 1.5 × ceiling', hot?.serverCpuUsPerRequest, ceiling?.serverCpuUsPerRequest, 'µs', (r) => r <= 1.5),
    ratio('sold-out-stampede server CPU per request', '≤ 1.1 × ceiling', soldOut?.serverCpuUsPerRequest, ceiling?.serverCpuUsPerRequest, 'µs', (r) => r <= 1.1),
    ratio('reserve-hot throughput', '≥ 0.7 × ceiling', hot?.requestsPerSec, ceiling?.requestsPerSec, 'req/s', (r) => r >= 0.7),
    absolute('reserve-hot p99 latency (100 connections)', '≤ 10 ms', hot?.latencyMs.p99, 'ms', (v) => v <= 10),
    ratio('reserve-hot throughput vs the row-lock peer', '≥ 15 × row-lock-baseline', hot?.requestsPerSec, rowLock?.requestsPerSec, 'req/s', (r) => r >= 15),
    absolute('flash-sale confirmed orders per second', '≥ 8,000/s', figure('flash-sale', 'confirmed orders/s'), '/s', (v) => v >= 8_000),
    absolute('flash-sale write-through lag p99', '≤ 1,000 ms', figure('flash-sale', 'write-through lag p99 (ms)'), 'ms', (v) => v <= 1_000),
    absolute('Redis memory per active hold', '≤ 300 B', figure('scale', 'Redis memory per active hold (B)'), 'B', (v) => v <= 300),
    absolute('time to expire 100,000 due holds', '≤ 2 s', expiryKey ? figure('scale', expiryKey) : undefined, 's', (v) => v <= 2),
  ];
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 2 : 0 });

function ratio(name: string, target: string, value: number | undefined, base: number | undefined, unit: string, pass: (r: number) => boolean): TargetResult {
  if (value === undefined || base === undefined || base === 0) return { name, target, measured: 'not measured (its scenario did not run or failed)', pass: false };
  const r = value / base;
  return { name, target, measured: `${r.toFixed(2)} × (${fmt(value)} vs ${fmt(base)} ${unit})`, pass: pass(r) };
}

function absolute(name: string, target: string, value: number | undefined, unit: string, pass: (v: number) => boolean): TargetResult {
  if (value === undefined) return { name, target, measured: 'not measured (its scenario did not run or failed)', pass: false };
  return { name, target, measured: `${fmt(value)} ${unit}`, pass: pass(value) };
}
