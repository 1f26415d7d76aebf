import { describe, expect, it } from 'vitest';
import { brokenInvariants, quickChaos } from './quick-subprocess.ts';
import { Rng } from './rng.ts';

/**
 * The faults the quick run inside `npm test` injects: all of them. Redis data loss was left out for a while: a confirm
 * acknowledged in the lost seconds, in a partition with nothing written through yet, was not fenced and its units were
 * sold again before repair ran (seed 244737, issue #15). A restarted redis-server is now compared with the provider's
 * recent captures before it grants (engine/fencing/lost-captures.ts).
 */
const quickFaults = ['kill-process', 'kill-redis', 'redis-data-loss', 'stop-postgres'];

describe('npm run chaos -- --quick', () => {
  it('a flash sale under process kills, redis-server crashes, PostgreSQL down and crash points: every invariant holds against the buyers\' ledger', async () => {
    const { seed, report, stderr } = await quickChaos(['--only', ...quickFaults]);
    const failed = brokenInvariants(report);
    expect(failed, `seed ${seed}:\n${stderr.slice(-4_000)}`).toEqual([]);
    expect(report.ok).toBe(true);
    for (const kind of quickFaults) expect(report.faults.map((f) => f.kind), `seed ${seed}`).toContain(kind);
    expect(report.acknowledgedConfirms).toBeGreaterThan(100);
    expect(report.invariants.map((i) => i.name[0])).toEqual(['C', 'D', 'T', 'N', 'I']);
  }, 600_000);
});

describe('the seeded random source', () => {
  it('replays the same sequence for the same seed, and another for another', () => {
    const draw = (seed: number) => { const r = new Rng(seed); return Array.from({ length: 20 }, () => r.int(0, 1_000_000)); };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(42).every((n) => n >= 0 && n <= 1_000_000)).toBe(true);
  });
});
