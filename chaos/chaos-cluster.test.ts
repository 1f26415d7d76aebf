import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from './run.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/stockade.mjs', import.meta.url));

/** The faults of a quick run on a local Redis Cluster (the cluster pass of npm test: vitest.config.ts). */
const clusterFaults = ['kill-process', 'kill-master', 'stop-postgres'];

describe('npm run chaos -- --quick --redis-cluster 3', () => {
  it('a flash sale on a 3-master Redis Cluster under master kills (failover), process kills, PostgreSQL down and crash points: every invariant holds', async () => {
    const seed = 1 + Math.floor(Math.random() * 1_000_000);
    const out = await run(process.execPath, [bin, 'chaos', '--quick', '--json', '--redis-cluster', '3', '--seed', String(seed), '--only', ...clusterFaults],
      { timeout: 600_000, maxBuffer: 64 << 20 }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as ChaosReport;
    const failed = report.invariants?.filter((i) => !i.ok).map((i) => `${i.name}: ${i.violations.join('; ')}`);
    expect(failed, `seed ${seed}:\n${out.stderr.slice(-4_000)}`).toEqual([]);
    expect(report.ok).toBe(true);
    for (const kind of clusterFaults) expect(report.faults.map((f) => f.kind), `seed ${seed}`).toContain(kind);
    expect(report.acknowledgedConfirms).toBeGreaterThan(100);
  }, 600_000);
});
