import type { TopLevelSpec } from 'vega-lite';
import type { SuiteReport } from '../suite/types.ts';
import { startTime } from './format.ts';

/** Latency axis goes logarithmic when its largest bar is this many times its smallest. */
const logSpreadMin = 20;
const rowHeightPx = 36;
const panelWidthPx = 360;

interface RunPoint {
  run: string;
  scenario: string;
  requestsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
}

/** One point per load run in report order; a label that repeats gets its scenario in front, so rows stay apart. */
function runPoints(report: SuiteReport): RunPoint[] {
  const runs = report.scenarios.flatMap((s) => s.runs.map((run) => ({ scenario: s.name, run })));
  const seen = new Map<string, number>();
  for (const { run } of runs) seen.set(run.label, (seen.get(run.label) ?? 0) + 1);
  return runs.map(({ scenario, run }) => ({
    run: (seen.get(run.label) ?? 0) > 1 ? `${scenario}: ${run.label}` : run.label,
    scenario,
    requestsPerSec: run.requestsPerSec,
    ...run.latencyMs,
  }));
}

type LatencyScale = { type: 'linear' } | { type: 'log'; nice: true };

function latencyScale(points: RunPoint[]): LatencyScale {
  const values = points.flatMap((p) => [p.p50, p.p90, p.p99]);
  const min = Math.min(...values);
  const max = Math.max(...values);
  // A log scale has no zero: the bars start at the domain's (rounded down) minimum.
  return min > 0 && max / min >= logSpreadMin ? { type: 'log', nice: true } : { type: 'linear' };
}

function throughputPanel(order: string[]) {
  return {
    title: 'Throughput (requests/s)',
    width: panelWidthPx,
    height: order.length * rowHeightPx,
    encoding: {
      y: { field: 'run', type: 'nominal' as const, sort: order, title: null, axis: { labelLimit: 320 } },
      x: { field: 'requestsPerSec', type: 'quantitative' as const, title: 'requests/s', axis: { format: ',.0f' } },
    },
    layer: [
      // Colour groups the runs of one scenario; the row labels already name them, so no legend.
      { mark: { type: 'bar' as const }, encoding: { color: { field: 'scenario', type: 'nominal' as const, legend: null } } },
      {
        mark: { type: 'text' as const, align: 'left' as const, dx: 3 },
        encoding: { text: { field: 'requestsPerSec', type: 'quantitative' as const, format: ',.0f' } },
      },
    ],
  };
}

/** The same rows as the throughput panel (whose labels name them), three bars each. */
function latencyPanel(order: string[], scale: LatencyScale) {
  return {
    title: `Latency percentiles (ms${scale.type === 'log' ? ', log scale' : ''})`,
    width: panelWidthPx,
    height: order.length * rowHeightPx,
    transform: [{ fold: ['p50', 'p90', 'p99'], as: ['percentile', 'ms'] }],
    mark: { type: 'bar' as const },
    encoding: {
      y: { field: 'run', type: 'nominal' as const, sort: order, title: null, axis: { labels: false, ticks: false } },
      yOffset: { field: 'percentile', type: 'nominal' as const, sort: ['p50', 'p90', 'p99'] },
      x: { field: 'ms', type: 'quantitative' as const, title: 'ms', scale, stack: null },
      color: {
        field: 'percentile', type: 'nominal' as const, title: 'latency',
        scale: { domain: ['p50', 'p90', 'p99'], range: ['#9ecae1', '#4292c6', '#08519c'] },
        legend: { orient: 'bottom' as const, direction: 'horizontal' as const, title: null },
      },
    },
  };
}

/** The vega-lite spec of the chart: throughput per run beside its latency percentiles, rows in report order. */
export function chartSpec(report: SuiteReport): TopLevelSpec {
  const points = runPoints(report);
  const order = points.map((p) => p.run);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Stockade benchmark, ${startTime(report.startedAt)} (${report.mode} run)`,
    background: 'white',
    data: { values: points },
    hconcat: [throughputPanel(order), latencyPanel(order, latencyScale(points))],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

/** The chart as an SVG document, drawn headless (vega's own SVG renderer; no canvas, no browser). */
export async function renderChart(report: SuiteReport): Promise<string> {
  // Loaded when a chart is drawn: vega takes a few hundred ms to import.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(chartSpec(report)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
