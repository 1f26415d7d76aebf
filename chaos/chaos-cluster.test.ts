import { describe, expect, it } from 'vitest';
import { brokenInvariants, quickChaos } from './quick-subprocess.ts';

/** The faults of a quick run on a local Redis Cluster (the cluster pass of npm test: vitest.config.ts). */
const clusterFaults = ['kill-process', 'kill-master', 'stop-postgres'];

describe('npm run chaos -- --quick --redis-cluster 3', () => {
  it('a flash sale on a 3-master Redis Cluster under master kills (failover), process kills, PostgreSQL down and crash points: every invariant holds', async () => {
    const { seed, report, stderr } = await quickChaos(['--redis-cluster', '3', '--only', ...clusterFaults]);
    const failed = brokenInvariants(report);
    expect(failed, `seed ${seed}:\n${stderr.slice(-4_000)}`).toEqual([]);
    expect(report.ok).toBe(true);
    for (const kind of clusterFaults) expect(report.faults.map((f) => f.kind), `seed ${seed}`).toContain(kind);
    expect(report.acknowledgedConfirms).toBeGreaterThan(100);
  }, 600_000);
});
