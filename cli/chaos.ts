import { runChaos, type ChaosReport } from '../chaos/run.ts';
import type { FaultKind } from '../chaos/faults.ts';

/** `stockade chaos` (npm run chaos): the fault harness; exit 1 when an invariant broke. */
export async function chaosCommand(opts: { quick?: boolean; seconds?: number; seed?: number; only?: FaultKind[]; json?: boolean;
  redisCluster?: number; }): Promise<void> {
  const report = await runChaos({ quick: !!opts.quick, seconds: opts.seconds, seed: opts.seed, only: opts.only, redisCluster: opts.redisCluster,
    progress: opts.json ? undefined : (line) => console.error(`stockade chaos: ${line}`) });
  console.log(opts.json ? JSON.stringify(report) : reportText(report));
  if (!report.ok) process.exitCode = 1;
}

export function reportText(r: ChaosReport): string {
  const out: string[] = [];
  out.push(`${r.ok ? 'every invariant held' : 'INVARIANTS BROKEN'} (seed ${r.seed}${r.ok ? '' : `; replay the schedule with --seed ${r.seed}`})`);
  out.push(`${r.quick ? 'quick run' : 'full run'}: ${r.saleSeconds} s of sale, ${r.durationSec} s in all`, '');
  out.push(`faults injected (${r.faults.length}), besides crash points, provider faults and client resends all along:`);
  for (const f of r.faults) out.push(`  ${String(f.atSec).padStart(6)} s  ${f.kind}: ${f.detail}`);
  out.push(`processes started again after a crash: ${r.restarts}`);
  out.push(`settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`, '');
  out.push(`requests by answer: ${Object.entries(r.requests.byStatus).map(([k, v]) => `${k}: ${v.toLocaleString('en-US')}`).join(', ')}`);
  out.push(`resends ${r.requests.resends.toLocaleString('en-US')}, sent twice at once ${r.requests.sentTwice.toLocaleString('en-US')}`);
  out.push(`reservations answered 201: ${r.reservations.toLocaleString('en-US')}; confirms acknowledged (200): ${r.acknowledgedConfirms.toLocaleString('en-US')}`);
  out.push(`last reconcile repair: ${r.repair}`, '');
  for (const i of r.invariants) {
    out.push(`${i.ok ? 'pass' : 'FAIL'}  ${i.name}`, `      ${i.detail}`);
    for (const v of i.violations) out.push(`      ✘ ${v}`);
  }
  return out.join('\n');
}
