import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, testApi, tokens, type Answer, type TestApi } from './support/api.ts';
import { Conformance } from './support/openapi.ts';

// Arbitrary methods, paths, headers and bodies: at least 10,000 requests, no 5xx,
// no crash, every answer of a documented operation as /openapi.json says, and the
// server still serves afterwards.
let api: TestApi;
let conformance: Conformance;

beforeAll(async () => {
  api = await testApi();
  for (const sku of ['F-1', 'F-2']) {
    await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 10, stock: 1_000_000 } });
  }
  conformance = new Conformance((await call(api.url, 'GET', '/openapi.json', { token: null })).body);
});
afterAll(() => api.close());

const segment = fc.oneof(fc.constantFrom('F-1', 'F-2', '1.aaaaaaaaaaaaaaaa', '0.zzzzzzzzzzzzzzzzz', '..', '%00', '%', '%E0%A4%A', '__proto__', 'constructor', ''),
  fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.string({ maxLength: 20 }));
const path = fc.oneof(
  fc.constantFrom('/v1/products', '/v1/reservations', '/healthz', '/readyz', '/openapi.json', '/metrics', '/'),
  segment.map((s) => `/v1/products/${s}`),
  segment.map((s) => `/v1/products/${s}/stock`),
  segment.map((s) => `/v1/reservations/${s}`),
  fc.tuple(segment, fc.constantFrom('confirm', 'release', 'other')).map(([s, verb]) => `/v1/reservations/${s}/${verb}`),
  segment.map((s) => `/v1/orders/${s}`),
  segment.map((s) => `/v1/users/${s}/orders`),
  fc.tuple(fc.constantFrom('/v1/products', '/v1/users/u/orders'), fc.string({ maxLength: 30 })).map(([p, q]) => `${p}?${q}`),
  fc.webPath(),
);
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({
    user_id: fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.constant(null)),
    items: fc.oneof(fc.array(fc.record({ sku: fc.constantFrom('F-1', 'F-2', 'nope', ''), qty: fc.oneof(fc.integer({ min: -5, max: 1005 }), fc.double(), fc.string()) }, { requiredKeys: [] }), { maxLength: 22 }), fc.anything()),
    ttl_ms: fc.oneof(fc.integer(), fc.double()),
  }, { requiredKeys: [] }),
  fc.record({ payment: fc.oneof(fc.record({ token: fc.constantFrom('tok_ok', 'tok_declined', 'tok_other', '') }), fc.anything()) }, { requiredKeys: [] }),
  fc.record({ sku: fc.string({ maxLength: 70 }), name: fc.string({ maxLength: 210 }), price_cents: fc.oneof(fc.integer(), fc.double()), stock: fc.integer(), delta: fc.integer() }, { requiredKeys: [] }),
);
const body = fc.oneof(jsonish.map((v) => JSON.stringify(v)), fc.string({ maxLength: 300 }), fc.constant(undefined));
interface FuzzRequest {
  method: string;
  path: string;
  token: string | null;
  idempotencyKey: string | undefined;
  contentType: string | undefined;
  body: string | undefined;
}
const request: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH'),
  path,
  token: fc.constantFrom(tokens.admin, tokens.client, 'wrong', '', null),
  idempotencyKey: fc.option(fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('k1', 'k2')), { nil: undefined }),
  contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/problem+json', 'application/json; charset=utf-8', ''), { nil: undefined }),
  body,
});
/** Mostly valid reservations and confirms, so the fuzz also walks the success paths. */
const nearlyValid: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.record({
    method: fc.constant('POST'), path: fc.constant('/v1/reservations'), token: fc.constant(tokens.client),
    idempotencyKey: fc.string({ minLength: 1, maxLength: 20 }),
    contentType: fc.constant('application/json'),
    body: fc.record({ user_id: fc.string({ minLength: 1, maxLength: 10 }), items: fc.constant([{ sku: 'F-1', qty: 1 }]) })
      .map((b) => JSON.stringify(b)),
  }),
  fc.record({
    method: fc.constant('POST'), path: fc.constantFrom('/v1/reservations/0.aaaaaaaaaaaaaaaaa/confirm', '/v1/reservations/7.aaaaaaaaaaaaaaaaa/release'),
    token: fc.constant(tokens.client), idempotencyKey: fc.constant(undefined),
    contentType: fc.constant('application/json'),
    body: fc.constantFrom('{"payment":{"token":"tok_ok"}}', '{"payment":{"token":"tok_declined"}}'),
  }),
);

const headerSafe = (v: string) => v.replace(/[^\x20-\x7e]/g, '');

async function send(r: FuzzRequest): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (r.token !== null) headers.authorization = `Bearer ${r.token}`;
  if (r.idempotencyKey !== undefined) headers['idempotency-key'] = headerSafe(r.idempotencyKey);
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  const hasBody = r.body !== undefined && r.method !== 'GET';
  const res = await fetch(api.url + r.path, { method: r.method, headers, body: hasBody ? r.body : undefined });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch { /* Prometheus text */ }
  return { status: res.status, headers: res.headers, body };
}

it('10,000 arbitrary requests: never a 5xx, never a crash, never an answer /openapi.json does not declare', async () => {
  const requests = fc.sample(fc.oneof({ weight: 9, arbitrary: request }, { weight: 1, arbitrary: nearlyValid }), { numRuns: 10_000, seed: 20261122 });
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const undocumented: string[] = [];
  let checked = 0;
  const concurrency = 32;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests.length) {
      const r = requests[next++]!;
      let answer: Answer;
      try {
        answer = await send(r);
      } catch (error) {
        // A request fetch itself refuses to send (e.g. an invalid URL) is not the server's.
        if (error instanceof TypeError && !/fetch failed/.test(error.message)) continue;
        throw error;
      }
      const status = answer.status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${status} ${r.method} ${r.path} ${String(r.body).slice(0, 120)}`);
      // Unknown paths (404) and methods (405) are no operation's; every other answer is checked.
      const errors = conformance.check(r.method, api.url + r.path, answer);
      if (!errors[0]?.endsWith('no such operation')) {
        checked += 1;
        undocumented.push(...errors);
      }
    }
  }));
  expect(failures).toEqual([]);
  expect(undocumented.slice(0, 20)).toEqual([]);
  expect(checked).toBeGreaterThan(2_000); // a quarter reach an operation (the rest: unknown paths and methods)
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  expect(total).toBeGreaterThanOrEqual(9_900);
  expect(statuses.get(201) ?? 0).toBeGreaterThan(0); // some requests were valid enough to reserve
  expect((await call(api.url, 'GET', '/healthz', { token: null })).status).toBe(200);
}, 120_000);
