import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { isAlive } from '../services/process.ts';
import { waitFor } from './support/api.ts';
import { leftovers } from './support/leftovers.ts';

// The suite's global setup leaves nothing behind: a nested vitest run of it
// around a careless test (test/fixtures/litter/) gets its own TMPDIR, which must
// be empty afterwards, with every process the run started there stopped:
// after a normal end, and after SIGINT mid-test.

const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const left = leftovers();

/** This process's environment without what marks it as a vitest worker. */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VITEST|TINYPOOL)/.test(k) && k !== 'NODE_ENV' && k !== 'TEST'));
}

interface Report {
  tmpdir: string;
  dirs: string[];
  redisPid: number;
  pids: number[];
}

async function nestedRun(interrupt: boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; report: Report; outside: string; output: string }> {
  const outside = left.dir('litter-'); // short: the nested run's PostgreSQL socket path goes through it
  const reportDir = left.dir('stockade-litter-report-');
  chmodSync(outside, 0o755); // PostgreSQL runs as its own OS user
  const reportFile = join(reportDir, 'report.json');
  const child = spawn(process.execPath, [vitest, 'run', '--config', 'test/fixtures/litter/vitest.config.ts'], {
    env: { ...plainEnv(), TMPDIR: outside, LITTER_REPORT: reportFile, LITTER_HOLD: interrupt ? '1' : '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: an interrupt reaches the run and its workers, as Ctrl-C in a terminal does
  });
  left.process(child.pid);
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  await waitFor(async () => existsSync(reportFile) || child.exitCode !== null, 90_000, "the fixture's report");
  if (!existsSync(reportFile)) throw new Error(`the nested run ended without running its test:\n${output}`);
  if (interrupt) process.kill(-child.pid!, 'SIGINT');
  const [code, signal] = await exited;
  // No process of the nested run (its workers carry its TMPDIR) outlives it.
  await waitFor(async () => processesWithTmpdirUnder(outside).length === 0, 20_000, 'every process of the nested run gone')
    .catch(() => { throw new Error(`still running after the nested run: ${processesWithTmpdirUnder(outside).join(', ')}\n${output}`); });
  return { code, signal, report: JSON.parse(readFileSync(reportFile, 'utf8')) as Report, outside, output };
}

/** Pids whose environment's TMPDIR lies under dir (Linux /proc; elsewhere none). */
function processesWithTmpdirUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const tmpdir = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((v) => v.startsWith('TMPDIR='))?.slice(7);
      if (tmpdir && (tmpdir === dir || tmpdir.startsWith(`${dir}/`)) && isAlive(pid)) found.push(pid);
    } catch { /* gone, or not ours to read */ }
  }
  return found;
}

function expectNoLitter(run: Awaited<ReturnType<typeof nestedRun>>): void {
  expect(run.report.tmpdir.startsWith(`${run.outside}/stockade-test-`), run.report.tmpdir).toBe(true);
  // The suite's redis-server and PostgreSQL, and the careless test's redis-server, were seen running under the run's temp dir.
  expect(run.report.pids).toContain(run.report.redisPid);
  expect(run.report.pids.length).toBeGreaterThanOrEqual(3);
  expect(readdirSync(run.outside), run.output).toEqual([]);
  expect(run.report.pids.filter(isAlive), run.output).toEqual([]);
}

it('a test run removes every temp dir it made and stops what its tests left running', async () => {
  const run = await nestedRun(false);
  expect(run.code, run.output).toBe(0);
  expectNoLitter(run);
}, 150_000);

it('so does a test run interrupted with SIGINT', async () => {
  const run = await nestedRun(true);
  expect(run.code ?? run.signal, run.output).not.toBe(0);
  expectNoLitter(run);
}, 150_000);
