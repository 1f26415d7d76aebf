import type { Check, LoadRun, ScenarioResult, SuiteReport } from '../suite/types.ts';
import { amount, count, figure, startTime, statuses } from './format.ts';

/**
 * The benchmark report as markdown: verdict, machine and software, settings, how the
 * load is generated, the results table (one row per load run), the targets, each
 * scenario's figures and checks, and the chart when its file is given.
 */
export function renderMarkdown(report: SuiteReport, chartFile?: string): string {
  const sections = [
    header(report),
    environment(report),
    scenarioList(report),
    resultsTable(report),
    targetsTable(report),
    figuresSection(report),
    checksSection(report),
    chartFile === undefined ? '' : `## Chart\n\n![Throughput and latency percentiles per run](${chartFile})`,
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}

/** A markdown table cell: no line breaks, no column separators. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

function row(cells: string[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

/** A markdown table; the columns named in numeric are right-aligned. */
function table(head: string[], rows: string[][], numeric: readonly string[] = []): string {
  const rule = head.map((name) => (numeric.includes(name) ? '---:' : '---'));
  return [row(head), `| ${rule.join(' | ')} |`, ...rows.map(row)].join('\n');
}

function failedChecks(report: SuiteReport): { scenario: string; check: Check }[] {
  return report.scenarios.flatMap((s) => s.checks.filter((c) => !c.ok).map((check) => ({ scenario: s.name, check })));
}

function header(report: SuiteReport): string {
  return [
    `# Stockade benchmark, ${startTime(report.startedAt)} (${report.mode} run, ${amount(report.durationSec)} s)`,
    verdict(report),
    targetsVerdict(report),
  ].join('\n\n');
}

function verdict(report: SuiteReport): string {
  const checks = report.scenarios.reduce((n, s) => n + s.checks.length, 0);
  const failed = failedChecks(report);
  if (report.ok && failed.length === 0) return `**✔ Every invariant held** (${count(checks)} checks).`;
  const names = failed.map((f) => `${f.scenario}: ${f.check.name}`).join('; ');
  const which = failed.length === 0 ? 'the run reported a failure outside the checks' : `${failed.length} of ${checks} checks failed: ${names}`;
  return `**✘ Not every invariant held**: ${which}.`;
}

function targetsVerdict(report: SuiteReport): string {
  const met = report.targets.filter((t) => t.pass).length;
  return `Targets met: ${met} of ${report.targets.length}${met === report.targets.length ? '.' : ' (see Targets).'}`;
}

function environment(report: SuiteReport): string {
  const m = report.machine;
  const settings = Object.entries(report.settings).map(([name, value]) => [name, figure(value)]);
  return [
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${amount(m.memoryGiB)} GiB memory, ${m.os}.`,
    `Software: Node ${m.node}, Redis ${m.redis}, PostgreSQL ${m.postgres}.`,
    `Load generator: ${report.generator}`,
    settings.length === 0 ? 'Settings: defaults.' : `Settings:\n\n${table(['setting', 'value'], settings)}`,
  ].join('\n\n');
}

function scenarioList(report: SuiteReport): string {
  const items = report.scenarios.map((s) => `- **${s.name}**: ${s.description}`);
  return `## Scenarios\n\n${items.join('\n')}`;
}

const resultsNumeric = [
  'connections', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms',
  'server CPU µs/req', 'generator CPU µs/req', 'Redis CPU µs/req',
];
const resultsHead = ['scenario', 'run', ...resultsNumeric, 'statuses', 'errors / timeouts'];

function runRow(scenario: ScenarioResult, run: LoadRun): string[] {
  const l = run.latencyMs;
  return [
    scenario.name, run.label, count(run.connections), count(run.requestsPerSec),
    amount(l.p50), amount(l.p90), amount(l.p99), amount(l.max),
    amount(run.serverCpuUsPerRequest), amount(run.generatorCpuUsPerRequest),
    run.redisCpuUsPerRequest === undefined ? '–' : amount(run.redisCpuUsPerRequest),
    statuses(run.statuses), `${count(run.errors)} / ${count(run.timeouts)}`,
  ];
}

function resultsTable(report: SuiteReport): string {
  const rows = report.scenarios.flatMap((s) => s.runs.map((run) => runRow(s, run)));
  return `## Results\n\n${table(resultsHead, rows, resultsNumeric)}`;
}

function targetsTable(report: SuiteReport): string {
  if (report.targets.length === 0) return '## Targets\n\nNo targets in this run.';
  const rows = report.targets.map((t) => [t.name, t.target, t.measured, t.pass ? '✅ pass' : '❌ fail']);
  return `## Targets\n\n${table(['target', 'goal', 'measured', 'result'], rows)}`;
}

function figuresSection(report: SuiteReport): string {
  const blocks = report.scenarios
    .filter((s) => Object.keys(s.figures).length > 0)
    .map((s) => {
      const items = Object.entries(s.figures).map(([name, value]) => `- ${name}: ${figure(value)}`);
      return `**${s.name}**\n\n${items.join('\n')}`;
    });
  return blocks.length === 0 ? '' : `## Figures\n\n${blocks.join('\n\n')}`;
}

function checkLine(check: Check): string {
  return check.ok ? `- ✔ ${check.name}: ${check.detail}` : `- **✘ FAILED ${check.name}**: ${check.detail}`;
}

function checksSection(report: SuiteReport): string {
  const blocks = report.scenarios.map((s) => {
    const lines = s.checks.length === 0 ? ['- (no checks)'] : s.checks.map(checkLine);
    return `**${s.name}**\n\n${lines.join('\n')}`;
  });
  return `## Checks\n\n${blocks.join('\n\n')}`;
}
