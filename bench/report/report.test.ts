import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadRun, SuiteReport } from '../suite/types.ts';
import { chartSpec } from './chart.ts';
import { amount, count, figure, statuses } from './format.ts';
import { renderMarkdown } from './markdown.ts';
import { fileStamp, writeReport } from './write.ts';

function run(label: string, requestsPerSec: number, extra: Partial<LoadRun> = {}): LoadRun {
  return {
    label,
    connections: 100,
    requests: requestsPerSec * 10,
    seconds: 10,
    requestsPerSec,
    latencyMs: { p50: 4.24, p90: 9.96, p99: 23.5, max: 1234.4 },
    statuses: { '201': requestsPerSec * 10 },
    errors: 0,
    timeouts: 0,
    serverCpuUsPerRequest: 63.4,
    generatorCpuUsPerRequest: 21.27,
    redisCpuUsPerRequest: 8.04,
    ...extra,
  };
}

/** Three scenarios: one without Redis, one with a failing check, one with two runs; one target fails. */
function sampleReport(): SuiteReport {
  return {
    startedAt: '2026-12-02T19:34:29.512Z',
    durationSec: 312.4,
    mode: 'full',
    machine: {
      cpuModel: 'AMD EPYC 7B13', cores: 2, memoryGiB: 23.43, os: 'Linux 6.1.0-30-amd64 x64',
      node: 'v20.20.2', redis: '7.0.15', postgres: '16.4',
    },
    settings: { STOCKADE_API_PROCESSES: 1, STOCKADE_PARTITIONS: 64, 'seconds per run': 10 },
    generator: 'autocannon in the suite process, 100 connections, precomputed request bodies.',
    scenarios: [
      {
        name: 'ceiling',
        description: 'an empty uWS handler: what the machine can answer at all',
        runs: [run('ceiling', 41234.6, { statuses: { '200': 412346 }, redisCpuUsPerRequest: undefined })],
        figures: {},
        checks: [{ name: 'every response 200', ok: true, detail: '412,346 of 412,346' }],
      },
      {
        name: 'flash-sale',
        description: '20,000 units, many buyers, the sale sells out',
        runs: [run('flash-sale', 7363.2, { statuses: { '409': 53612, '201': 20000 }, errors: 3, timeouts: 2 })],
        figures: { 'time to sell out (s)': 1.94, 'units sold': 20000, verdict: 'sold out' },
        checks: [
          { name: 'C conservation', ok: true, detail: 'available + reserved + sold == total on 1 SKU' },
          { name: 'N no oversell', ok: false, detail: 'sold 20,001 of 20,000 stocked' },
        ],
      },
      {
        name: 'scale',
        description: 'reserve-hot with many active holds',
        runs: [run('scale: 10,000 active holds', 9000), run('scale: 1,000,000 active holds', 7000.4)],
        figures: { 'Redis memory per hold (B)': 226 },
        checks: [{ name: 'holds counted', ok: true, detail: '1,000,000 active' }],
      },
    ],
    targets: [
      { name: 'reserve-hot server CPU per reservation', target: '≤ 1.5 × ceiling', measured: '4.1 × (259 µs vs 63 µs)', pass: false },
      { name: 'flash-sale p99 latency', target: '≤ 50 ms', measured: '23.5 ms', pass: true },
    ],
    ok: false,
  };
}

function allPassing(): SuiteReport {
  const report = sampleReport();
  for (const s of report.scenarios) for (const c of s.checks) c.ok = true;
  return { ...report, ok: true };
}

describe('report formats', () => {
  it('rounds µs and ms to one decimal under 10 and to integers above, with thousands separators', () => {
    expect([amount(4.24), amount(9.96), amount(23.5), amount(1234.4)]).toEqual(['4.2', '10', '24', '1,234']);
    expect(count(41234.6)).toBe('41,235');
    expect([figure(1.944), figure(20000), figure(0.01234), figure('sold out')]).toEqual(['1.94', '20,000', '0.0123', 'sold out']);
    expect(statuses({ '409': 12, '201': 51234 })).toBe('201: 51,234; 409: 12');
  });
});

describe('writeReport', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
    dir = '';
  });

  it('writes the stamped markdown, JSON and SVG and the latest copies', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stockade-report-'));
    const report = sampleReport();
    const out = join(dir, 'results'); // missing: writeReport creates it
    const paths = await writeReport(report, out);
    expect(fileStamp(report.startedAt)).toBe('2026-12-02T19-34-29Z');
    expect(paths).toEqual({
      markdown: join(out, '2026-12-02T19-34-29Z.md'),
      json: join(out, '2026-12-02T19-34-29Z.json'),
      chart: join(out, '2026-12-02T19-34-29Z.svg'),
    });
    for (const file of [...Object.values(paths), join(out, 'latest.md'), join(out, 'latest.svg')]) expect(existsSync(file)).toBe(true);

    expect(JSON.parse(readFileSync(paths.json, 'utf8'))).toEqual(report);
    expect(readFileSync(paths.markdown, 'utf8')).toContain('![Throughput and latency percentiles per run](2026-12-02T19-34-29Z.svg)');
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('](latest.svg)');

    const svg = readFileSync(paths.chart, 'utf8');
    expect(svg).toMatch(/^<svg[\s>]/);
    expect(svg.trimEnd()).toMatch(/<\/svg>$/);
    for (const s of report.scenarios) for (const r of s.runs) expect(svg).toContain(r.label);
    expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toBe(svg);
  });
});

describe('renderMarkdown', () => {
  it('begins with the verdict and the machine, then a row per run, the targets, figures and checks', () => {
    const md = renderMarkdown(sampleReport());
    const lines = md.split('\n');
    expect(lines[0]).toBe('# Stockade benchmark, 2026-12-02 19:34:29 UTC (full run, 312 s)');
    expect(md).toContain('**✘ Not every invariant held**: 1 of 4 checks failed: flash-sale: N no oversell.');
    expect(md).toContain('Targets met: 1 of 2 (see Targets).');
    expect(md).toContain('Machine: AMD EPYC 7B13, 2 cores, 23 GiB memory, Linux 6.1.0-30-amd64 x64.');
    expect(md).toContain('Software: Node v20.20.2, Redis 7.0.15, PostgreSQL 16.4.');
    expect(md).toContain('| STOCKADE_PARTITIONS | 64 |');
    expect(md).toContain('Load generator: autocannon in the suite process');

    expect(lines).toContain('| ceiling | ceiling | 100 | 41,235 | 4.2 | 10 | 24 | 1,234 | 63 | 21 | – | 200: 412,346 | 0 / 0 |');
    expect(lines).toContain('| flash-sale | flash-sale | 100 | 7,363 | 4.2 | 10 | 24 | 1,234 | 63 | 21 | 8.0 | 201: 20,000; 409: 53,612 | 3 / 2 |');
    expect(lines).toContain('| scale | scale: 10,000 active holds | 100 | 9,000 | 4.2 | 10 | 24 | 1,234 | 63 | 21 | 8.0 | 201: 90,000 | 0 / 0 |');
    expect(lines).toContain('| scale | scale: 1,000,000 active holds | 100 | 7,000 | 4.2 | 10 | 24 | 1,234 | 63 | 21 | 8.0 | 201: 70,004 | 0 / 0 |');

    expect(lines).toContain('| reserve-hot server CPU per reservation | ≤ 1.5 × ceiling | 4.1 × (259 µs vs 63 µs) | ❌ fail |');
    expect(lines).toContain('| flash-sale p99 latency | ≤ 50 ms | 23.5 ms | ✅ pass |');

    expect(md).toContain('- time to sell out (s): 1.94\n- units sold: 20,000\n- verdict: sold out');
    expect(md).toContain('- Redis memory per hold (B): 226');
    expect(md).toContain('- **✘ FAILED N no oversell**: sold 20,001 of 20,000 stocked');
    expect(md).toContain('- ✔ C conservation: available + reserved + sold == total on 1 SKU');
    expect(md).not.toContain('## Chart');
    expect(md.indexOf('## Results')).toBeLessThan(md.indexOf('## Targets'));
    expect(md.indexOf('## Figures')).toBeLessThan(md.indexOf('## Checks'));
  });

  it('says at the top that every invariant held when every check passed', () => {
    const md = renderMarkdown(allPassing(), 'latest.svg');
    expect(md.split('\n')[2]).toBe('**✔ Every invariant held** (4 checks).');
    expect(md).not.toContain('Not every invariant held');
    expect(md).not.toContain('✘');
    expect(md.trimEnd().endsWith('![Throughput and latency percentiles per run](latest.svg)')).toBe(true);
  });

  it('keeps a table cell with a column separator in its cell', () => {
    const report = allPassing();
    report.targets[0]!.measured = 'a | b';
    expect(renderMarkdown(report)).toContain('| a \\| b |');
  });
});

describe('chartSpec', () => {
  const latency = (spec: ReturnType<typeof chartSpec>) => JSON.stringify((spec as { hconcat: unknown[] }).hconcat[1]);
  const rows = (spec: ReturnType<typeof chartSpec>) => (spec as { data: { values: { run: string }[] } }).data.values.map((v) => v.run);

  it('draws latency on a linear axis when the percentiles are close, on a log axis when they spread wide', () => {
    const close = sampleReport();
    expect(latency(chartSpec(close))).toContain('"type":"linear"');
    const wide = sampleReport();
    wide.scenarios[0]!.runs[0]!.latencyMs = { p50: 0.6, p90: 1.1, p99: 3.2, max: 9 };
    wide.scenarios[1]!.runs[0]!.latencyMs = { p50: 120, p90: 480, p99: 910, max: 1500 };
    expect(latency(chartSpec(wide))).toContain('"type":"log"');
  });

  it('keeps one row per run in report order, naming the scenario where two runs share a label', () => {
    const report = sampleReport();
    report.scenarios[0]!.runs[0]!.label = 'hot';
    report.scenarios[1]!.runs[0]!.label = 'hot';
    expect(rows(chartSpec(report))).toEqual(['ceiling: hot', 'flash-sale: hot', 'scale: 10,000 active holds', 'scale: 1,000,000 active holds']);
  });
});
