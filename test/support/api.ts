import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { startApi, type ApiServer } from '../../api/server.ts';
import { createRuntime, type Runtime } from '../../app/runtime.ts';
import { createLogger, type EngineSettings, type FaultHooks } from '../../engine/index.ts';
import type { ApiSettings } from '../../settings/views.ts';
import { startWorkers } from '../../workers/run.ts';
import type { WorkerSettings } from '../../settings/views.ts';
import type { WriteThrough } from '../../workers/writethrough.ts';
import type { SimulatedProviderOptions } from '../../payments/simulated.ts';

export const tokens = { admin: 'test-admin-token', client: 'test-client-token' };

/** A database of its own on the suite's PostgreSQL (so test files run in parallel). */
export async function freshDatabase(): Promise<string> {
  const url = new URL(inject('databaseUrl'));
  const name = `t_${randomBytes(5).toString('hex')}`;
  const admin = postgres({ host: url.hostname, port: Number(url.port), user: url.username, pass: decodeURIComponent(url.password), database: 'postgres', max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestApi {
  url: string;
  runtime: Runtime;
  server: ApiServer;
  writeThrough: WriteThrough | null;
  close(): Promise<void>;
}

/** A real server on a free port, over the suite's Redis and a fresh database. */
export async function testApi(o: {
  engine?: Partial<EngineSettings>; api?: Partial<ApiSettings>; workers?: Partial<WorkerSettings> | false; databaseUrl?: string;
  provider?: Partial<SimulatedProviderOptions>; faults?: FaultHooks; redisUrl?: string; providerDir?: string;
} = {}): Promise<TestApi> {
  const redisUrl = o.redisUrl ?? inject('redisUrl');
  const runtime = await createRuntime({
    redisUrl,
    databaseUrl: o.databaseUrl ?? (await freshDatabase()),
    env: {},
    engine: { keyPrefix: `a${randomBytes(4).toString('hex')}:`, ...o.engine },
    // Room for a loaded machine: a confirm answers 202 only past the payment timeout.
    api: { adminToken: tokens.admin, clientToken: tokens.client, paymentTimeoutMs: 5_000, ...o.api },
    log: createLogger('test', 'silent'),
    providerDir: o.providerDir ?? mkdtempSync(join(tmpdir(), 'stockade-provider-')),
    provider: o.provider,
    faults: o.faults,
  });
  const server = await startApi(runtime.apiDeps(), 0, '127.0.0.1');
  const writeThrough = o.workers
    ? startWorkers(runtime.engine, redisUrl, runtime.sql, runtime.log, { pollMs: 20, lockMs: 2_000, ...o.workers })
    : null;
  return {
    url: `http://127.0.0.1:${server.port}`,
    runtime,
    server,
    writeThrough,
    close: async () => {
      await server.close(1_000);
      await writeThrough?.stop();
      await runtime.close();
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** One HTTP request; `token` 'admin' | 'client' | a raw token | null (none). */
export async function call(base: string, method: string, path: string, o: {
  token?: 'admin' | 'client' | string | null; body?: unknown; raw?: string; headers?: Record<string, string>;
  /** Gives up (rejects) after this long: a client that stops waiting. */
  timeoutMs?: number;
} = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? 'client' : o.token;
  if (token !== null) headers.authorization = `Bearer ${token === 'admin' ? tokens.admin : token === 'client' ? tokens.client : token}`;
  let payload: string | undefined = o.raw;
  if (o.body !== undefined) {
    payload = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body: payload, ...(o.timeoutMs ? { signal: AbortSignal.timeout(o.timeoutMs) } : {}) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch { /* not JSON: keep the text */ }
  return { status: res.status, headers: res.headers, body };
}

/** Polls until check() returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
