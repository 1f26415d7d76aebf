import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { expect, inject, it } from 'vitest';
import { withScratch } from '../bench/scratch.ts';
import { freePort, isAlive } from '../services/process.ts';
import { redisUrls, startRedis, stopRedis } from '../services/redis.ts';
import { freshDatabase, waitFor } from './support/api.ts';
import { leftovers } from './support/leftovers.ts';
import { processesUnder } from './support/processes.ts';

// The `stockade` command as a user runs it: its version, --json on every command
// that prints results (a table otherwise, and no progress display on a pipe), and
// benchmarks that leave no temp dir and no process behind, whether they end,
// fail or are interrupted.

const bin = 'bin/stockade.mjs';
/** Each command gets a TMPDIR of its own, so what it leaves there is what it leaves. */
const left = leftovers();
const ownTmpdir = () => left.dir('stockade-cli-tmp-');

/** `stockade …` with PATH, TMPDIR and env only (no URLs of the suite's services unless given). */
function stockade(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', TMPDIR: ownTmpdir(), ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** What a command left in its TMPDIR (tsx's compile cache aside: it is there when the command runs from source). */
function leftIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => !name.startsWith('tsx-'));
}

it('--version prints the version in package.json; --help lists the commands', () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const run = stockade([flag]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  }
  const help = stockade(['--help']);
  expect(help.status, help.stderr).toBe(0);
  for (const command of ['start', 'workers', 'config', 'services', 'reconcile', 'bench']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
});

it('services status: a table, or --json; exit 1 when not running', () => {
  const dataDir = join(ownTmpdir(), 'data');
  const text = stockade(['services', 'status'], { STOCKADE_DATA_DIR: dataDir });
  expect(text.status).toBe(1);
  expect(text.stdout).toBe('not running\n');
  const json = stockade(['services', 'status', '--json'], { STOCKADE_DATA_DIR: dataDir });
  expect(json.status).toBe(1);
  expect(JSON.parse(json.stdout)).toEqual({ running: false, dataDir });
});

it('reconcile expire: a table, or --json; nothing but the result on a pipe', () => {
  const env = { REDIS_URL: inject('redisUrl'), DATABASE_URL: inject('databaseUrl'), STOCKADE_KEY_PREFIX: `cli${process.pid}:` };
  const text = stockade(['reconcile', 'expire'], env);
  expect(text.status, text.stderr).toBe(0);
  expect(text.stdout).toMatch(/^expired holds +0\npurged records +0\n$/);
  expect(text.stderr).toBe('');
  const json = stockade(['reconcile', 'expire', '--json'], env);
  expect(json.status, json.stderr).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ ok: true, expired: 0, purged: 0 });
});

it('reconcile rebuild: a table, or --json; twice is safe; over hold records it refuses unless --force', async () => {
  const env = { REDIS_URL: inject('redisUrl'), DATABASE_URL: await freshDatabase(), STOCKADE_KEY_PREFIX: `clirb${process.pid}:` };
  const text = stockade(['reconcile', 'rebuild'], env);
  expect(text.status, text.stderr).toBe(0);
  expect(text.stdout).toMatch(/^partitions rebuilt +64\nproducts +0\nhold records dropped .* +0\n$/);
  const json = stockade(['reconcile', 'rebuild', '--json'], env);
  expect(json.status, json.stderr).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ ok: true, partitions: 64, products: 0, holds_dropped: 0, reserved: 0 });
  const redis = new Redis(inject('redisUrl'));
  try {
    await redis.hset(`clirb${process.pid}:{p:3}:holds`, 'some-hold', 'x');
    const refused = stockade(['reconcile', 'rebuild'], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('--force');
    const forced = stockade(['reconcile', 'rebuild', '--force', '--json'], env);
    expect(forced.status, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ ok: true, holds_dropped: 1 });
  } finally {
    redis.disconnect();
  }
});

it('bench options are checked before anything starts', () => {
  const run = stockade(['bench', 'engine', '--seconds', 'soon']);
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("option '--seconds <n>' argument 'soon' is invalid");
});

it('bench engine on a private redis-server: --json lines or a table, and its scratch dir is gone afterwards', () => {
  const tmp = ownTmpdir();
  const json = spawnSync(process.execPath, [bin, 'bench', 'engine', '--seconds', '1', '--concurrency', '20', '--scenario', 'hold', '--json'],
    { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, encoding: 'utf8', timeout: 60_000 });
  expect(json.status, json.stderr).toBe(0);
  const result = JSON.parse(json.stdout) as { scenario: string; requests: number; outcomes: Record<string, number> };
  expect(result.scenario).toBe('hold');
  expect(result.outcomes.held).toBe(result.requests);
  expect(leftIn(tmp)).toEqual([]);

  const text = spawnSync(process.execPath, [bin, 'bench', 'engine', '--seconds', '1', '--concurrency', '20', '--scenario', 'sold-out'],
    { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, encoding: 'utf8', timeout: 60_000 });
  expect(text.status, text.stderr).toBe(0);
  expect(text.stdout).toMatch(/^scenario +requests\/s +requests +outcomes +mean batch .*\nsold-out +[\d,]+ +[\d,]+ +out_of_stock \d+ /);
  expect(text.stderr).toBe(''); // no progress display when stderr is not a terminal
  expect(leftIn(tmp)).toEqual([]);
}, 90_000);

it('bench expire on a private redis-server: every due hold expired by the sweep, the figures in one JSON object', () => {
  const tmp = ownTmpdir();
  const run = spawnSync(process.execPath, [bin, 'bench', 'expire', '--holds', '2000', '--skus', '8', '--json'],
    { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as { holds: number; passes: number; seconds: number; memoryBytesPerHold: number };
  expect(result).toMatchObject({ holds: 2000 });
  expect(result.passes).toBeGreaterThanOrEqual(1);
  expect(result.memoryBytesPerHold).toBeGreaterThan(0);
  expect(leftIn(tmp)).toEqual([]);
}, 90_000);

it('bench rebuild on a private redis-server and PostgreSQL: the sampled SKUs equal PostgreSQL\'s, the figures in one JSON object', () => {
  const tmp = ownTmpdir();
  const run = spawnSync(process.execPath, [bin, 'bench', 'rebuild', '--skus', '300', '--orders', '2000', '--json'],
    { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, encoding: 'utf8', timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ skus: 300, orders: 2000, wrong: 0 });
  expect(leftIn(tmp)).toEqual([]);
}, 150_000);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  it(`bench engine interrupted with ${signal}: its redis-server is stopped and its scratch dir removed`, async () => {
    const tmp = ownTmpdir();
    const child = spawn(process.execPath, [bin, 'bench', 'engine', '--seconds', '120', '--concurrency', '20', '--scenario', 'hold'],
      { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    left.process(child.pid);
    let output = '';
    child.stdout!.on('data', (d) => { output += d; });
    child.stderr!.on('data', (d) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The private redis-server, once it names its port (its process title).
    const redis = await waitFor(async () => processesUnder(tmp).map(({ pid }) => ({ pid, title: /127\.0\.0\.1:(\d+)/.exec(cmdlineOf(pid)) }))
      .find((p) => p.title), 30_000, 'the private redis-server');
    const port = Number(redis.title![1]);
    // Mid-run: the scenario is under way once its keys exist.
    // As the application user (its password is in the server's dir, its working directory).
    const client = new Redis(redisUrls(readlinkSync(`/proc/${redis.pid}/cwd`), port).url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await waitFor(async () => (await client.dbsize()) > 0, 30_000, 'the scenario under way');
    } finally {
      client.disconnect();
    }
    child.kill(signal);
    expect(await exited, output).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(isAlive(redis.pid), output).toBe(false);
    expect(leftIn(tmp), output).toEqual([]);
    expect(output).not.toMatch(/stockade: (?!SIG)/); // no error echo from the calls the cleanup cut short
  }, 90_000);
}

it('a bench that fails removes its scratch dir, after stopping what it started there (also what was still starting)', async () => {
  const seen: { dir?: string; running?: number; starting?: Promise<{ pid: number }> } = {};
  await expect(withScratch('stockade-scratch-test-', async (scratch) => {
    seen.dir = scratch.dir;
    const redisDir = (name: string) => join(scratch.dir, name);
    seen.running = (await scratch.started(startRedis({ dir: redisDir('a'), port: await freePort() }), () => stopRedis(redisDir('a')))).pid;
    seen.starting = scratch.started(startRedis({ dir: redisDir('b'), port: await freePort() }), () => stopRedis(redisDir('b')));
    throw new Error('the bench failed');
  })).rejects.toThrow('the bench failed');
  expect(existsSync(seen.dir!)).toBe(false);
  expect(isAlive(seen.running!)).toBe(false);
  expect(isAlive((await seen.starting!).pid)).toBe(false);
  expect(process.listenerCount('SIGINT')).toBe(0);
});

/** A process's command line, or '' once it is gone (it may exit between the scan and the read). */
function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
