import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ChaosReport } from './run.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/stockade.mjs', import.meta.url));

/** `stockade chaos --quick --json` with a random seed in a process of its own (the tests' way to run it): its report, seed and stderr. */
export async function quickChaos(args: string[]): Promise<{ seed: number; report: ChaosReport; stderr: string }> {
  const seed = 1 + Math.floor(Math.random() * 1_000_000);
  const out = await run(process.execPath, [bin, 'chaos', '--quick', '--json', '--seed', String(seed), ...args], { timeout: 600_000, maxBuffer: 64 << 20 })
    .catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));
  return { seed, report: JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as ChaosReport, stderr: out.stderr };
}

/** The invariants a report says broke, in words (none: []). */
export function brokenInvariants(report: ChaosReport): string[] | undefined {
  return report.invariants?.filter((i) => !i.ok).map((i) => `${i.name}: ${i.violations.join('; ')}`);
}
