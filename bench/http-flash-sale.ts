import autocannon from 'autocannon';
import { withScratch } from './scratch.ts';
import { call, startStack } from './suite/stack.ts';

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

/** The server's data dir (its redis-server, PostgreSQL, provider records) is a scratch dir, removed with the run. */
export function benchHttp(o: HttpBenchOptions): Promise<HttpBenchResult> {
  return withScratch('stockade-http-bench-', async (scratch) => {
    const report = o.report ?? (() => {});
    report('start stockade with its own redis-server and PostgreSQL');
    // Its own services whatever REDIS_URL and DATABASE_URL say (the suite's stack, embedded).
    const stack = await startStack(scratch, { processes: o.processes, env: { REDIS_URL: '', DATABASE_URL: '' } });
    const base = stack.base;
    const sku = 'FLASH-1';
    const created = await call(stack, 'POST', '/v1/products', { sku, name: 'Flash', price_cents: 9_900, stock: o.stock }, { admin: true });
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
          req.headers = { authorization: `Bearer ${stack.clientToken}`, 'content-type': 'application/json', 'idempotency-key': `k${n}` };
          req.body = JSON.stringify({ user_id: `user-${n}`, items: [{ sku, qty: 1 }] });
          return req;
        },
      }],
    });
    const product = (await call(stack, 'GET', `/v1/products/${sku}`)).body as { stock: Record<string, number> };
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
