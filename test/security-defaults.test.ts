import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenFiles } from '../app/tokens.ts';
import { findLocalServices } from '../services/local.ts';
import { freePort } from '../services/process.ts';
import { call, waitFor } from './support/api.ts';
import { killStack, root, startStack, waitGone, type Stack } from './support/stack.ts';

// Issue #11: what a start without configuration lets in, tried as an outsider would (over loopback only).

const dataDirs: string[] = [];
let stack: Stack | null = null;
afterAll(() => {
  killStack(stack);
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** A data directory Stockade makes itself (the embedded services' OS users pass through its parent). */
function freshDataDir(name: string): string {
  const parent = mkdtempSync(join(tmpdir(), `stockade-${name}-`));
  chmodSync(parent, 0o711);
  dataDirs.push(parent);
  return join(parent, 'data');
}

/** The local addresses of every socket listening on port, from `ss` (what a server binds, without sending it anything). */
function listenersOn(port: number): string[] {
  return execFileSync('ss', ['-Hltn', `( sport = :${port} )`], { encoding: 'utf8' }).split('\n').filter(Boolean)
    .map((line) => line.trim().split(/\s+/)[3]!);
}

const loopback = (address: string) => /^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(address);

async function stop(s: Stack): Promise<void> {
  const pids = s.pids();
  process.kill(s.pid, 'SIGTERM');
  expect((await s.exited).code, s.output()).toBe(0);
  await waitGone(pids, 'the stack');
}

const noTokens = { STOCKADE_ADMIN_TOKEN: '', STOCKADE_CLIENT_TOKEN: '', STOCKADE_HOST: '', NODE_ENV: '' };

describe('without configured tokens', () => {
  it('listens on loopback only, refuses the tokens earlier versions published, and serves with random tokens of its data directory', async () => {
    const dataDir = freshDataDir('defaults');
    const port = await freePort();
    stack = await startStack({ dataDir, port, env: noTokens, npm: false });
    const s = stack;

    const listeners = listenersOn(port);
    expect(listeners.length).toBeGreaterThan(0);
    expect(listeners.filter((a) => !loopback(a)), `listening on ${listeners.join(', ')}`).toEqual([]);
    const services = findLocalServices(dataDir)!;
    for (const url of [services.redisUrl, services.databaseUrl]) {
      const servicePort = Number(new URL(url).port);
      expect(listenersOn(servicePort).filter((a) => !loopback(a)), `${url} listens beyond loopback`).toEqual([]);
    }

    const base = s.base;
    const product = { sku: 'SEC-1', name: 'Secure', price_cents: 100, stock: 5 };
    for (const published of ['dev-admin-token', 'change-me-admin', 'dev-client-token', 'change-me-client']) {
      expect((await call(base, 'POST', '/v1/products', { token: published, body: product })).status).toBe(401);
    }

    const files = tokenFiles(dataDir);
    const admin = readFileSync(files.admin, 'utf8').trim();
    const client = readFileSync(files.client, 'utf8').trim();
    for (const file of [files.admin, files.client]) expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(admin).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits
    expect(client).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(admin).not.toBe(client);
    expect((await call(base, 'POST', '/v1/products', { token: client, body: product })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/products', { token: admin, body: product })).status).toBe(201);
    expect((await call(base, 'GET', '/v1/products/SEC-1', { token: client })).status).toBe(200);

    // Not a log line carries them (stderr is no terminal here: the files are named instead).
    expect(s.output()).toContain('bearer tokens: generated ones');
    expect(s.output()).toContain(files.admin);
    expect(s.output()).not.toContain(admin);
    expect(s.output()).not.toContain(client);

    // The next start of the same data directory keeps them.
    await stop(s);
    stack = await startStack({ dataDir, port, env: noTokens, npm: false });
    expect((await call(stack.base, 'GET', '/v1/products/SEC-1', { token: client })).status).toBe(200);
    expect((await call(stack.base, 'POST', '/v1/products', { token: admin, body: { ...product, sku: 'SEC-2' } })).status).toBe(201);
    expect(stack.output()).not.toContain(admin);
    await stop(stack);
    stack = null;
  }, 300_000);

  it.each(['0.0.0.0', '::'])('a public listen address (%s) is refused at start: nothing starts, nothing listens', async (host) => {
    const dataDir = freshDataDir('public');
    const port = await freePort();
    const run = spawnSync(process.execPath, ['bin/stockade.mjs', 'start'], {
      cwd: root, encoding: 'utf8', timeout: 60_000,
      env: { ...process.env, ...noTokens, STOCKADE_HOST: host, PORT: String(port), STOCKADE_DATA_DIR: dataDir, REDIS_URL: '', DATABASE_URL: '' },
    });
    expect(run.status, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toContain(`STOCKADE_HOST=${host} is not a loopback address: listening there needs STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN set`);
    expect(listenersOn(port)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
  }, 90_000);
});

describe('no secret in any log line', () => {
  it('a full flow (start, a sale, a failed Redis call, stop) logs none of the configured secrets nor a request\'s keys and user ids', async () => {
    const dataDir = freshDataDir('logscan');
    const secrets = { admin: `adm-${Math.random().toString(36).slice(2)}-secret`, client: `cli-${Math.random().toString(36).slice(2)}-secret` };
    stack = await startStack({ dataDir, port: await freePort(), npm: false,
      env: { STOCKADE_ADMIN_TOKEN: secrets.admin, STOCKADE_CLIENT_TOKEN: secrets.client, STOCKADE_LOG_LEVEL: 'debug' } });
    const s = stack;
    const base = s.base;
    expect((await call(base, 'POST', '/v1/products', { token: secrets.admin, body: { sku: 'LOG-1', name: 'n', price_cents: 250, stock: 10 } })).status).toBe(201);
    const keys = ['idem-key-alpha-7f3a', 'idem-key-beta-91c2', 'idem-key-gamma-3b7e'];
    const users = ['user-alice-5e1b', 'user-bob-c04d', 'user-carol-77aa'];
    const held = await Promise.all(keys.slice(0, 2).map((key, i) => call(base, 'POST', '/v1/reservations', { token: secrets.client,
      headers: { 'idempotency-key': key }, body: { user_id: users[i], items: [{ sku: 'LOG-1', qty: 1 }] } })));
    for (const h of held) expect(h.status).toBe(201);
    const confirmed = await call(base, 'POST', `/v1/reservations/${held[0]!.body.id}/confirm`, { token: secrets.client, body: { payment: { token: 'tok_ok' } } });
    expect(confirmed.status).toBe(200);

    // A Redis call that fails: the app's Redis user may not run scripts for a moment (NOPERM, as a misconfigured ACL gives),
    // and a reservation's batch, whose arguments are its Idempotency-Keys and user ids, is refused.
    const services = findLocalServices(dataDir)!;
    const appUser = decodeURIComponent(new URL(services.redisUrl).username) || 'default';
    const admin = new Redis(services.redisAdminUrl, { maxRetriesPerRequest: 1 });
    try {
      await admin.call('ACL', 'SETUSER', appUser, '-evalsha', '-eval');
      const failed = await call(base, 'POST', '/v1/reservations', { token: secrets.client, headers: { 'idempotency-key': keys[2]! },
        body: { user_id: users[2], items: [{ sku: 'LOG-1', qty: 1 }] } });
      expect(failed.status).toBeGreaterThanOrEqual(500);
    } finally {
      await admin.call('ACL', 'SETUSER', appUser, '+evalsha', '+eval');
      admin.disconnect();
    }
    await waitFor(async () => /NOPERM/.test(s.output()), 20_000, 'the failed call in the log');
    await stop(s);
    stack = null;

    const output = s.output();
    const passwords = [services.redisUrl, services.redisAdminUrl, services.databaseUrl].map((url) => decodeURIComponent(new URL(url).password)).filter(Boolean);
    for (const secret of [secrets.admin, secrets.client, ...passwords, ...keys, ...users, 'tok_ok']) {
      expect(output.includes(secret), `"${secret}" in the log`).toBe(false);
    }
    expect(output).toMatch(/"command":\{"name":"evalsha"\}/); // the failed call is logged, by name
  }, 300_000);
});

describe('docker-compose.yml', () => {
  it('ships no secret: every token and password comes from the environment (.env) and is required; the API is published on loopback', async () => {
    const { parse } = await import('yaml');
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { environment?: Record<string, string>; ports?: string[]; command?: string[] }>;
    };
    const secretNames = /TOKEN|PASSWORD/;
    const required = /^\$\{([A-Z_]+):\?[^}]+\}$/;
    const env = Object.values(compose.services).flatMap((s) => Object.entries(s.environment ?? {}));
    for (const [name, value] of env.filter(([name]) => secretNames.test(name))) expect(value, name).toMatch(required);
    for (const [name, value] of env.filter(([name]) => /_URL$/.test(name))) {
      const password = new URL(value.replace(/\$\{([A-Z_]+):\?[^}]+\}/g, 'X$1')).password;
      expect(password, `${name} carries its password from the environment`).toMatch(/^X[A-Z_]+$/);
    }
    const ports = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(ports).toEqual(['127.0.0.1:8080:8080']);
    expect(readFileSync(join(root, '.env.example'), 'utf8')).toMatch(/^STOCKADE_ADMIN_TOKEN=$/m);
    expect(readFileSync(join(root, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });
});
