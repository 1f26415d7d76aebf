import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, waitForHttp } from '../services/process.ts';
import { stopLocalServices } from '../services/local.ts';

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
}

const admin = 'bench-admin-token';
const client = 'bench-client-token';

export async function benchHttp(o: HttpBenchOptions) {
  const dataDir = mkdtempSync(join(tmpdir(), 'stockade-http-bench-'));
  const port = await freePort();
  const server = spawn(process.execPath, ['bin/stockade.mjs', 'start'], {
    env: { ...process.env, PORT: String(port), STOCKADE_DATA_DIR: dataDir, STOCKADE_API_PROCESSES: String(o.processes),
      STOCKADE_ADMIN_TOKEN: admin, STOCKADE_CLIENT_TOKEN: client, STOCKADE_LOG_LEVEL: 'warn', REDIS_URL: '', DATABASE_URL: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/healthz`, 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const sku = 'FLASH-1';
    const created = await fetch(`${base}/v1/products`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sku, name: 'Flash', price_cents: 9_900, stock: o.stock }) });
    if (created.status !== 201) throw new Error(`create product: ${created.status}`);
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
    const product = (await (await fetch(`${base}/v1/products/${sku}`, { headers: { authorization: `Bearer ${client}` } })).json()) as { stock: unknown };
    return {
      processes: o.processes,
      connections: o.connections,
      stock: o.stock,
      requestsPerSec: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      statuses: result.statusCodeStats,
      errors: result.errors,
      timeouts: result.timeouts,
      finalStock: product.stock,
    };
  } finally {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    await stopLocalServices(dataDir, { remove: true });
  }
}
