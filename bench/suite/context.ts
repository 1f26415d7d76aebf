import type autocannon from 'autocannon';
import { call, type Stack } from './stack.ts';
import type { ScenarioResult } from './types.ts';

/** The knobs of one suite run (quick: every scenario briefly, as a smoke check). */
export interface SuiteOptions {
  quick: boolean;
  /** autocannon connections of the steady scenarios. */
  connections: number;
  /** Measured seconds of each steady run, and unmeasured seconds before it. */
  seconds: number;
  warmupSeconds: number;
  /** API processes of the server (STOCKADE_API_PROCESSES). */
  processes: number;
  /** The server's embedded Redis as a local Redis Cluster of this many masters (STOCKADE_REDIS_CLUSTER_MASTERS); absent: one redis-server. */
  redisCluster?: number;
}

export interface SuiteContext extends SuiteOptions {
  stack: Stack;
  /** Unique to the run: SKUs, users and keys start with it (a second run against the same stores does not collide). */
  prefix: string;
  /** The line under the scenario's progress bar. */
  report: (text: string) => void;
}

export interface Scenario {
  name: string;
  description: string;
  /** For the progress bar. */
  expectedSeconds: (o: SuiteOptions) => number;
  run: (ctx: SuiteContext) => Promise<ScenarioResult>;
  /** It drives one redis-server's scripts itself (not through the API), so it does not run on a cluster. */
  singleRedis?: boolean;
}

/** Requests built so far by a scenario's generator (warm-up and measured run share it: every key is new). */
export interface Counter {
  n: number;
}

/** A reservation body written as a string: cheaper for the generator than JSON.stringify of an object. */
export function oneLineBody(userId: string, sku: string, qty = 1): string {
  return `{"user_id":"${userId}","items":[{"sku":"${sku}","qty":${qty}}]}`;
}

/** POST path with a new Idempotency-Key per request (in a header) and the body of request n. */
export function reserving(ctx: SuiteContext, o: { path?: string; keyPrefix: string; counter: Counter; body: (n: number) => string }): autocannon.Request {
  const authorization = `Bearer ${ctx.stack.clientToken}`;
  return {
    method: 'POST',
    path: o.path ?? '/v1/reservations',
    setupRequest: (req) => {
      const n = o.counter.n++;
      req.headers = { authorization, 'content-type': 'application/json', 'idempotency-key': `${o.keyPrefix}${n}` };
      req.body = o.body(n);
      return req;
    },
  };
}

/** Creates a product through the API (admin token); throws unless 201. */
export async function createProduct(ctx: SuiteContext, sku: string, stock: number): Promise<void> {
  const r = await call(ctx.stack, 'POST', '/v1/products', { sku, name: sku, price_cents: 1_000, stock }, { admin: true });
  if (r.status !== 201) throw new Error(`create ${sku}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Runs fn over items with at most `concurrency` at once. */
export async function eachLimited<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}
