import { fileURLToPath } from 'node:url';
import { runSuite, scenarios, suiteDefaults } from '../bench/suite/run.ts';
import type { SuiteReport } from '../bench/suite/types.ts';
import { progressShown, runSteps, type Step } from './progress.ts';
import { table } from './table.ts';
import { serviceSettings, setServiceSetting } from '../settings/views.ts';

export interface SuiteCommandOptions {
  quick?: boolean;
  connections?: number;
  seconds?: number;
  processes: number;
  redisCluster?: number;
  only?: string[];
  out?: string;
  json?: boolean;
}

const resultsDir = fileURLToPath(new URL('../bench/results/', import.meta.url));

/**
 * `npm run bench` (`stockade bench`): every scenario against one server, then
 * the report (markdown, JSON, chart) under bench/results/. Exit 1 when an
 * invariant or a scenario's check failed (targets missed are reported, not
 * failures: the report says which).
 */
export async function benchSuiteCommand(opts: SuiteCommandOptions): Promise<void> {
  const unknown = (opts.only ?? []).filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length) throw Object.assign(new Error(`no scenario ${unknown.join(', ')} (there are ${scenarios.map((s) => s.name).join(', ')})`), { code: 'USAGE' });
  if (opts.redisCluster) {
    if (serviceSettings().redisUrl) throw Object.assign(new Error('--redis-cluster starts a cluster of the run\'s own: unset REDIS_URL'), { code: 'USAGE' });
    const single = scenarios.filter((s) => s.singleRedis && opts.only?.includes(s.name)).map((s) => s.name);
    if (single.length) throw Object.assign(new Error(`${single.join(', ')} runs on one redis-server only`), { code: 'USAGE' });
    setServiceSetting('redisClusterMasters', String(opts.redisCluster));
  }
  const defaults = opts.quick ? suiteDefaults.quick : suiteDefaults.full;
  const report = await runSuite({
    quick: opts.quick ?? false, processes: opts.processes, redisCluster: opts.redisCluster, connections: opts.connections ?? defaults.connections,
    seconds: opts.seconds ?? defaults.seconds, warmupSeconds: defaults.warmupSeconds, only: opts.only,
  }, (steps) => runSteps(progressShown(opts) || opts.json ? steps : withPlainProgress(steps), opts));
  const { writeReport } = await import('../bench/report/write.ts');
  const files = await writeReport(report, opts.out ?? resultsDir);
  if (opts.json) console.log(JSON.stringify(report));
  else console.log(summary(report, files));
  if (!report.ok) process.exitCode = 1;
}

function summary(r: SuiteReport, files: { markdown: string; json: string; chart: string }): string {
  const runs = r.scenarios.flatMap((s) => s.runs.map((run) => [run.label, run.requestsPerSec.toLocaleString('en-US'), `${run.latencyMs.p99} ms`,
    `${run.serverCpuUsPerRequest} µs`, `${run.generatorCpuUsPerRequest} µs`]));
  const targets = r.targets.map((t) => [t.pass ? 'pass' : 'FAIL', t.name, t.target, t.measured]);
  const failed = r.scenarios.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `  ✘ ${s.name}: ${c.name}: ${c.detail}`));
  return [
    table(['run', 'req/s', 'p99', 'server CPU/req', 'generator CPU/req'], runs), '',
    table(['', 'target', 'goal', 'measured'], targets), '',
    failed.length ? `INVARIANTS OR CHECKS FAILED:\n${failed.join('\n')}` : `every invariant and check held (${r.scenarios.reduce((n, s) => n + s.checks.length, 0)} checks)`,
    '', `report: ${files.markdown}`, `        ${files.json}`, `        ${files.chart}`,
  ].join('\n');
}

/** Off a terminal (a log, CI), one line per step on stderr as it starts and as it ends. */
function withPlainProgress(steps: Step[]): Step[] {
  return steps.map((step, i) => ({
    ...step,
    run: async (report) => {
      const started = Date.now();
      process.stderr.write(`stockade bench: [${i + 1}/${steps.length}] ${step.title}\n`);
      await step.run(report);
      process.stderr.write(`stockade bench: [${i + 1}/${steps.length}] done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  }));
}
