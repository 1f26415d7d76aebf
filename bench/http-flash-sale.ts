import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort, waitForHttp } from '../services/process.ts';
import { stopLocalServices } from '../services/local.ts';
import { type Scratch, withScratch } from './scratch.ts';
import { stopChild } from './suite/stack.ts';

/**
 * An HTTP flash sale on 127.0.0.1: `stockade start` in its own process (with its
 * own embedded Redis and PostgreSQL), autocannon beside it. Every request is a
 * POST /v1/reservations with its own Idempotency-Key and user (built in
 * setupRequest: autocannon 8 sends a wrong Content-Length when it rewrites ids
 * inside a body).
 */
export interface HttpBenchOptions {
  seconds: number;
  connections: number;
  processes: number;
  /** Units on sale: large for a pure-hold run, small for a sale that sells out. */
  stock: number;
  /** Told each phase as it starts. */
  report?: (phase: string) => void;
}

export interface HttpBenchResult {
  processes: number;
  connections: number;
  stock: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Responses per HTTP status. */
  statuses: Record<string, { count: number }>;
  errors: number;
  timeouts: number;
  finalStock: Record<string, number>;
}

const admin = 'bench-admin-token';
const client = 'bench-client-token';

/** The server's data dir (its redis-server, PostgreSQL, provider records) is a scratch dir, removed with the run. */
export function benchHttp(o: HttpBenchOptions): Promise<HttpBenchResult> {
  return withScratch('stockade-http-bench-', async (scratch) => {
    const report = o.report ?? (() => {});
    report('start stockade with its own redis-server and PostgreSQL');
    const base = await startServer(scratch, o);
    const sku = 'FLASH-1';
    const created = await fetch(`${base}/v1/products`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sku, name: 'Flash', price_cents: 9_900, stock: o.stock }) });
    if (created.status !== 201) throw new Error(`create product: ${created.status}`);
    report(`autocannon: ${o.connections} connections for ${o.seconds} s`);
    let seq = 0;
    const result = await autocannon({
      url: base,
      connections: o.connections,
      duration: o.seconds,
      requests: [{
        method: 'POST',
        path: '/v1/reservations',
        setupRequest: (req) => {
          const n = seq++;
          req.headers = { authorization: `Bearer ${client}`, 'content-type': 'application/json', 'idempotency-key': `k${n}` };
          req.body = JSON.stringify({ user_id: `user-${n}`, items: [{ sku, qty: 1 }] });
          return req;
        },
      }],
    });
    const product = (await (await fetch(`${base}/v1/products/${sku}`, { headers: { authorization: `Bearer ${client}` } })).json()) as { stock: Record<string, number> };
    report('stop the server and its services');
    return {
      processes: o.processes,
      connections: o.connections,
      stock: o.stock,
      requestsPerSec: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      statuses: result.statusCodeStats as HttpBenchResult['statuses'],
      errors: result.errors,
      timeouts: result.timeouts,
      finalStock: product.stock,
    };
  });
}

/** `stockade start` on the scratch dir; stopped (then the services it started) when the scratch dir goes. Returns its base URL. */
async function startServer(scratch: Scratch, o: HttpBenchOptions): Promise<string> {
  const port = await freePort();
  // Registered first, so it runs last: whatever the server left running under its data dir.
  scratch.atRemoval(() => stopLocalServices(scratch.dir));
  const server = spawn(process.execPath, [fileURLToPath(new URL('../bin/stockade.mjs', import.meta.url)), 'start'], {
    env: { ...process.env, PORT: String(port), STOCKADE_DATA_DIR: scratch.dir, STOCKADE_API_PROCESSES: String(o.processes),
      STOCKADE_ADMIN_TOKEN: admin, STOCKADE_CLIENT_TOKEN: client, STOCKADE_LOG_LEVEL: 'warn', REDIS_URL: '', DATABASE_URL: '',
      // The benchmark profile measures the engine: rate limits off, whatever NODE_ENV says (they are on in production).
      STOCKADE_RATE_LIMIT_TOKEN_PER_S: '0', STOCKADE_RATE_LIMIT_USER_PER_S: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  scratch.atRemoval(() => stopChild(server));
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, 60_000);
  await new Promise((r) => setTimeout(r, 1_000));
  return base;
}
