import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from './run.ts';
import { faultKinds } from './faults.ts';
import { Rng } from './rng.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/stockade.mjs', import.meta.url));

describe('npm run chaos -- --quick', () => {
  it('a flash sale under process kills, redis-server crashes, Redis data loss, PostgreSQL down and crash points: every invariant holds against the buyers\' ledger', async () => {
    const seed = 1 + Math.floor(Math.random() * 1_000_000);
    const out = await run(process.execPath, [bin, 'chaos', '--quick', '--json', '--seed', String(seed)],
      { timeout: 600_000, maxBuffer: 64 << 20 }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as ChaosReport;
    const failed = report.invariants?.filter((i) => !i.ok).map((i) => `${i.name}: ${i.violations.join('; ')}`);
    expect(failed, `seed ${seed}:\n${out.stderr.slice(-4_000)}`).toEqual([]);
    expect(report.ok).toBe(true);
    for (const kind of faultKinds) expect(report.faults.map((f) => f.kind), `seed ${seed}`).toContain(kind);
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
