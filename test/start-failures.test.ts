import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../services/process.ts';
import { waitFor } from './support/api.ts';
import { servingPid } from './support/serving.ts';
import { killStack, root, running, servicePids, stackTokens, startStack, waitGone, type Stack } from './support/stack.ts';

// A start that cannot succeed says why (naming the setting) and leaves nothing running; a
// second Stockade cannot take the port or the data directory of a running one.
const dirs: string[] = [];
const children: ChildProcess[] = [];
const servers: Server[] = [];
let stack: Stack | null = null;
let seen: number[] = [];

afterAll(() => {
  killStack(stack, seen);
  for (const c of children) c.kill('SIGKILL');
  for (const s of servers) s.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stockade-fail-'));
  chmodSync(dir, 0o711); // as root the services' OS users pass through (Stockade never loosens a dir it did not make)
  dirs.push(dir);
  return dir;
}

const baseEnv = (dir: string, port: number): Record<string, string> => ({
  STOCKADE_DATA_DIR: dir, PORT: String(port), STOCKADE_HOST: '127.0.0.1', STOCKADE_ADMIN_TOKEN: stackTokens.admin,
  STOCKADE_CLIENT_TOKEN: stackTokens.client, STOCKADE_LOG_LEVEL: 'info', REDIS_URL: '', DATABASE_URL: '',
});

/** `stockade start` expected to fail: its exit code and output (killed if it runs past the bound). */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['bin/stockade.mjs', 'start'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  return { code, output };
}

/** A plain listener on 127.0.0.1:port (no SO_REUSEPORT), as most programs hold a port. */
async function holdPortPlainly(port: number): Promise<void> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
}

/** Whether something accepts connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Nothing was started under dir: neither service has a data directory there, and the lock is gone. */
function nothingStartedIn(dir: string): void {
  expect(existsSync(join(dir, 'redis')), `${dir}/redis`).toBe(false);
  expect(existsSync(join(dir, 'postgres')), `${dir}/postgres`).toBe(false);
  expect(existsSync(join(dir, 'stockade.lock')), `${dir}/stockade.lock`).toBe(false);
}

async function up(dir: string, port: number, env: Record<string, string> = {}): Promise<Stack> {
  stack = await startStack({ dataDir: dir, port, env });
  seen = [...seen, ...stack.pids()];
  return stack;
}

async function down(s: Stack): Promise<void> {
  const pids = s.pids();
  process.kill(s.pid, 'SIGTERM');
  expect(await s.exited, s.output()).toEqual({ code: 0, signal: null });
  await waitGone(pids, 'after SIGTERM');
  stack = null;
}

describe('a start that cannot succeed', () => {
  it('refuses a port another program holds, naming PORT, before it starts anything', async () => {
    const port = await freePort();
    await holdPortPlainly(port);
    const dir = dataDir();
    const { code, output } = await failedStart(baseEnv(dir, port));
    expect(code, output).toBe(1);
    expect(output).toContain(`IN_USE: PORT ${port} is in use on 127.0.0.1`);
    expect(output).toContain('set PORT to a free port');
    nothingStartedIn(dir);
  });

  it('refuses the port and the data directory of a running Stockade (whose API processes share the port); a crashed one blocks nothing', async () => {
    const port = await freePort();
    const home = dataDir();
    let s = await up(home, port, { STOCKADE_API_PROCESSES: '2' });
    // Its two API processes share the port: separate connections reach both (the kernel says which process serves each).
    const pids = new Set<number>();
    await waitFor(async () => {
      pids.add(await servingPid(port));
      return pids.size >= 2;
    }, 60_000, 'both API processes answering');

    // Another Stockade on the same port, with one API process (exclusive) or two (SO_REUSEPORT): refused.
    for (const processes of ['1', '2']) {
      const other = dataDir();
      const { code, output } = await failedStart({ ...baseEnv(other, port), STOCKADE_API_PROCESSES: processes });
      expect(code, output).toBe(1);
      expect(output).toContain(`IN_USE: PORT ${port} is in use`);
      nothingStartedIn(other);
    }
    // Every connection still reaches the first one.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${s.base}/healthz`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      expect(pids.has(await servingPid(port))).toBe(true);
    }

    // Another Stockade on its data directory (any port): refused, naming it; the first one's services keep running.
    const services = servicePids(home);
    const { code, output } = await failedStart(baseEnv(home, await freePort()));
    expect(code, output).toBe(1);
    expect(output).toContain(`IN_USE: STOCKADE_DATA_DIR ${home} is in use by a running Stockade (pid `);
    expect(running(services.redis) && running(services.postgres)).toBe(true);
    expect((await fetch(`${s.base}/readyz`)).status).toBe(200);

    // It crashes (SIGKILL: no clean-up): its lock is stale, the next start takes it and the services it left, and stops them.
    const crashed = s.pids().filter((pid) => pid !== services.redis && pid !== services.postgres);
    for (const pid of crashed) process.kill(pid, 'SIGKILL');
    await waitGone(crashed, 'after SIGKILL');
    expect(running(services.redis) && running(services.postgres)).toBe(true);
    expect(JSON.parse(readFileSync(join(home, 'stockade.lock'), 'utf8')).pid).toBeGreaterThan(0);
    s = await up(home, port);
    expect(servicePids(home)).toEqual(services);
    await down(s);
    expect(running(services.redis) || running(services.postgres)).toBe(false);
    expect(existsSync(join(home, 'stockade.lock'))).toBe(false);
  }, 600_000);

  it('stops what it started when a later step fails (PostgreSQL unreachable: the embedded Redis it started is stopped)', async () => {
    const dir = dataDir();
    const nowhere = `postgres://stockade@127.0.0.1:${await freePort()}/nowhere`;
    const { code, output } = await failedStart({ ...baseEnv(dir, await freePort()), DATABASE_URL: nowhere });
    expect(code, output).toBe(1);
    expect(output).toMatch(/ECONNREFUSED/);
    expect(output).toContain('start failed; stopping what it started');
    const redisPort = JSON.parse(readFileSync(join(dir, 'services.json'), 'utf8')).redisPort as number;
    const redisPid = servicePids(dir).redis;
    expect(redisPid === 0 || !running(redisPid)).toBe(true);
    expect(await accepts(redisPort)).toBe(false);
    expect(existsSync(join(dir, 'stockade.lock'))).toBe(false);
  }, 120_000);

  it('in production reports every configuration error at once, before any service starts', async () => {
    const dir = dataDir();
    const port = await freePort();
    await holdPortPlainly(port);
    // A running Stockade holds the data directory (any live process whose command line says stockade).
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)', 'stockade'], { stdio: 'ignore' });
    children.push(holder);
    const lock = `${JSON.stringify({ pid: holder.pid, owns: { redis: false, postgres: false } })}\n`;
    writeFileSync(join(dir, 'stockade.lock'), lock);
    const { code, output } = await failedStart({ ...baseEnv(dir, port), NODE_ENV: 'production', STOCKADE_ADMIN_TOKEN: '',
      STOCKADE_CLIENT_TOKEN: '', STOCKADE_HOLD_TTL_MS_MIN: 'soon' });
    expect(code, output).toBe(1);
    for (const problem of ['STOCKADE_HOLD_TTL_MS_MIN=soon is not an integer', 'NODE_ENV=production needs STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN',
      `STOCKADE_DATA_DIR ${dir} is in use by a running Stockade (pid ${holder.pid}`, `PORT ${port} is in use`]) {
      expect(output).toContain(problem);
    }
    expect(output.trim().split('\n')).toHaveLength(1); // one message, printed before anything ran
    expect(existsSync(join(dir, 'redis')) || existsSync(join(dir, 'postgres'))).toBe(false);
    expect(readFileSync(join(dir, 'stockade.lock'), 'utf8')).toBe(lock);
    holder.kill('SIGKILL');
  }, 120_000);
});
