import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SuiteReport } from '../suite/types.ts';
import { renderChart } from './chart.ts';
import { renderMarkdown } from './markdown.ts';

/** The run's start as a file name stamp, e.g. "2026-12-02T19-34-29Z" (no colons: safe on every file system). */
export function fileStamp(startedAt: string): string {
  const ms = Date.parse(startedAt);
  if (!Number.isFinite(ms)) throw new Error(`startedAt is not an ISO 8601 time: ${JSON.stringify(startedAt)}`);
  return `${new Date(ms).toISOString().slice(0, 19).replaceAll(':', '-')}Z`;
}

/**
 * Writes the report under dir (created if missing): <stamp>.md, <stamp>.json (the
 * SuiteReport), <stamp>.svg, and the copies latest.md / latest.svg, each markdown
 * linking the chart beside it. Returns the stamped paths.
 */
export async function writeReport(report: SuiteReport, dir: string): Promise<{ markdown: string; json: string; chart: string }> {
  const stamp = fileStamp(report.startedAt);
  const svg = await renderChart(report);
  const paths = { markdown: join(dir, `${stamp}.md`), json: join(dir, `${stamp}.json`), chart: join(dir, `${stamp}.svg`) };
  await mkdir(dir, { recursive: true });
  await writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(paths.chart, svg);
  await writeFile(paths.markdown, renderMarkdown(report, `${stamp}.svg`));
  await writeFile(join(dir, 'latest.svg'), svg);
  await writeFile(join(dir, 'latest.md'), renderMarkdown(report, 'latest.svg'));
  return paths;
}
