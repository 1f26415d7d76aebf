import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { advanceClock } from './support/engine.ts';
import { call, testApi, tokens, type Answer, type TestApi, waitFor } from './support/api.ts';
import { Conformance } from './support/openapi.ts';

// Every operation of /openapi.json driven over HTTP, against real servers,
// through its success and error paths; every response checked against the
// document (status declared, content type, body schema, headers). At the end
// every declared status of every operation must have been seen, but for the
// few named with their reason.
let api: TestApi;
/** Payment timeout 300 ms: tok_timeout gives 202. */
let quick: TestApi;
let conformance: Conformance;
let n = 0;

beforeAll(async () => {
  [api, quick] = await Promise.all([testApi({ workers: { pollMs: 20 } }), testApi({ api: { paymentTimeoutMs: 300 } })]);
  conformance = new Conformance((await call(api.url, 'GET', '/openapi.json', { token: null })).body);
});
afterAll(() => Promise.all([api?.close(), quick?.close()]));

/** One request, its response checked against the document. */
async function hit(server: TestApi, method: string, path: string, o: Parameters<typeof call>[3] = {}): Promise<Answer> {
  const a = await call(server.url, method, path, o);
  expect(conformance.check(method, path, a), `${method} ${path}`).toEqual([]);
  return a;
}
const req = (method: string, path: string, o: Parameters<typeof call>[3] = {}) => hit(api, method, path, o);

async function product(server: TestApi, stock = 10, extra: Record<string, unknown> = {}) {
  const sku = `OA-${++n}`;
  expect((await hit(server, 'POST', '/v1/products', { token: 'admin', body: { sku, name: `Thing ${n}`, price_cents: 100, stock, ...extra } })).status).toBe(201);
  return sku;
}

async function held(server: TestApi, sku: string, extra: Record<string, unknown> = {}): Promise<string> {
  const a = await hit(server, 'POST', '/v1/reservations', { body: { user_id: `u${++n}`, items: [{ sku, qty: 1 }], ...extra }, headers: { 'idempotency-key': `h${n}` } });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  return a.body.id;
}

const confirm = (server: TestApi, id: string, token = 'tok_ok', headers: Record<string, string> = {}) =>
  hit(server, 'POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token } }, headers });

/** What any route that takes a body answers for a body it cannot read. */
async function bodyErrors(method: string, path: string, token: 'admin' | 'client', headers: Record<string, string> = {}) {
  expect((await req(method, path, { token, raw: '{"a":', headers: { 'content-type': 'application/json', ...headers } })).status).toBe(400);
  expect((await req(method, path, { token, raw: 'a=1', headers: { 'content-type': 'text/plain', ...headers } })).status).toBe(415);
  expect((await req(method, path, { token, raw: `"${'x'.repeat(17_000)}"`, headers: { 'content-type': 'application/json', ...headers } })).status).toBe(413);
}

/** What any route that needs a token answers without one, with a wrong one, and (admin routes) with the client token. */
async function authErrors(method: string, path: string, admin: boolean) {
  expect((await req(method, path, { token: null })).headers.get('www-authenticate')).toBe('Bearer');
  expect((await req(method, path, { token: 'wrong' })).headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  if (admin) expect((await req(method, path, { token: 'client' })).headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope"');
}

describe('the document', () => {
  it('is valid OpenAPI 3.1, with servers, security schemes and an operationId on every operation', async () => {
    const validator = new Validator();
    const result = await validator.validate(conformance.doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    const doc = conformance.doc as any;
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['adminToken', 'clientToken']);
    const ids = Object.values(doc.paths).flatMap((ops: any) => Object.values(ops).map((op: any) => op.operationId));
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/v1/products'].post.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths['/v1/reservations'].post.security).toEqual([{ clientToken: [] }, { adminToken: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });
});

describe('products', () => {
  it('POST /v1/products: 201, 409, 422 (every field at fault), 400, 401, 403, 413, 415', async () => {
    const sku = await product(api);
    expect((await req('POST', '/v1/products', { token: 'admin', body: { sku, name: 'x', price_cents: 1, stock: 1 } })).status).toBe(409);
    const invalid = await req('POST', '/v1/products', { token: 'admin', body: { sku: 'bad sku', price_cents: -1, stock: 1.5, color: 'red' } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['/color', '/name', '/price_cents', '/sku', '/stock']);
    await bodyErrors('POST', '/v1/products', 'admin');
    await authErrors('POST', '/v1/products', true);
  });

  it('GET /v1/products: 200 page by page; 400 for a bad limit or a cursor this API did not give; 401', async () => {
    await product(api);
    await product(api);
    const first = await req('GET', '/v1/products?limit=1');
    expect(first.status).toBe(200);
    expect((await req('GET', `/v1/products?limit=1&cursor=${first.body.next_cursor}`)).status).toBe(200);
    for (const query of ['limit=0', 'cursor=%24%24', 'cursor=', 'cursor=YWJj%3D', `cursor=${Buffer.from('no sku!').toString('base64url')}`]) {
      expect((await req('GET', `/v1/products?${query}`)).status, query).toBe(400);
    }
    await authErrors('GET', '/v1/products', false);
  });

  it('GET /v1/products/{sku}: 200, 404, 400, 401', async () => {
    const sku = await product(api);
    expect((await req('GET', `/v1/products/${sku}`)).status).toBe(200);
    expect((await req('GET', '/v1/products/NOPE')).status).toBe(404);
    expect((await req('GET', '/v1/products/%E0%A4%A')).status).toBe(400);
    await authErrors('GET', `/v1/products/${sku}`, false);
  });

  it('POST /v1/products/{sku}/stock: 200 (and its replay), 409, 404, 422, 422 key reused, 400, 401, 403, 413, 415', async () => {
    const sku = await product(api, 5);
    const path = `/v1/products/${sku}/stock`;
    const key = { 'idempotency-key': `st-${sku}` };
    expect((await req('POST', path, { token: 'admin', body: { delta: 5 }, headers: key })).status).toBe(200);
    expect((await req('POST', path, { token: 'admin', body: { delta: 5 }, headers: key })).headers.get('idempotent-replayed')).toBe('true');
    expect((await req('POST', path, { token: 'admin', body: { delta: 6 }, headers: key })).body.type).toBe('/problems/idempotency-key-reused');
    expect((await req('POST', path, { token: 'admin', body: { delta: -100 } })).status).toBe(409);
    expect((await req('POST', '/v1/products/NOPE/stock', { token: 'admin', body: { delta: 1 } })).status).toBe(404);
    expect((await req('POST', path, { token: 'admin', body: { delta: 0 } })).status).toBe(422);
    expect((await req('POST', path, { token: 'admin', body: { delta: 1 }, headers: { 'idempotency-key': 'k'.repeat(256) } })).status).toBe(400);
    await bodyErrors('POST', path, 'admin');
    await authErrors('POST', path, true);
  });
});

describe('reservations', () => {
  it('POST /v1/reservations: 201 (and its replay), 409 out of stock and per-user limit, 422s, 400s, 401, 413, 415', async () => {
    const sku = await product(api, 3, { per_user_limit: 2 });
    const post = (body: unknown, key?: string) => req('POST', '/v1/reservations', { body, headers: key === undefined ? {} : { 'idempotency-key': key } });
    const body = { user_id: 'ann', items: [{ sku, qty: 2 }] };
    expect((await post(body, `r-${sku}`)).status).toBe(201);
    expect((await post(body, `r-${sku}`)).headers.get('idempotent-replayed')).toBe('true');
    expect((await post({ ...body, items: [{ sku, qty: 1 }] }, `r-${sku}`)).body.type).toBe('/problems/idempotency-key-reused');
    expect((await post({ user_id: 'bob', items: [{ sku, qty: 2 }] }, `o-${sku}`)).body.type).toBe('/problems/out-of-stock');
    expect((await post({ user_id: 'ann', items: [{ sku, qty: 1 }] }, `l-${sku}`)).body.type).toBe('/problems/per-user-limit');
    expect((await post({ user_id: 'ann', items: [{ sku: 'GHOST', qty: 1 }] }, `g-${sku}`)).body.type).toBe('/problems/unknown-sku');
    const invalid = await post({ user_id: '', items: [{ sku, qty: 0 }, { sku, qty: 1 }], ttl_ms: 5 }, `i-${sku}`);
    expect(invalid.body.errors).toEqual([
      { pointer: '/user_id', message: expect.any(String) }, { pointer: '/items/0/qty', message: expect.any(String) },
      { pointer: '/ttl_ms', message: expect.any(String) }]);
    const repeated = await post({ user_id: 'cy', items: [{ sku, qty: 1 }, { sku, qty: 1 }] }, `d-${sku}`);
    expect(repeated.body.errors).toEqual([{ pointer: '/items/1/sku', message: `sku ${sku} appears on more than one line` }]);
    expect((await post(body)).body.type).toBe('/problems/idempotency-key-required');
    expect((await post(body, 'k'.repeat(256))).body.type).toBe('/problems/bad-request');
    await bodyErrors('POST', '/v1/reservations', 'client', { 'idempotency-key': `b-${sku}` });
    await authErrors('POST', '/v1/reservations', false);
  });

  it('GET /v1/reservations/{id}: 200, 404, 400, 401', async () => {
    const id = await held(api, await product(api), { user_id: 'owner-g' });
    expect((await req('GET', `/v1/reservations/${id}`)).status).toBe(200);
    expect((await req('GET', `/v1/reservations/${id}?user_id=owner-g`)).status).toBe(200);
    expect((await req('GET', `/v1/reservations/${id}?user_id=someone-else`)).status).toBe(404);
    expect((await req('GET', `/v1/reservations/${id}?user_id=`)).status).toBe(400);
    expect((await req('GET', '/v1/reservations/1.aaaaaaaaaaaaaaaa')).status).toBe(404);
    expect((await req('GET', '/v1/reservations/%E0%A4%A')).status).toBe(400);
    await authErrors('GET', `/v1/reservations/${id}`, false);
  });

  it('confirm: 200 (and its replay), 402, 409, 410, 404, 422s, 400s, 401, 413, 415', async () => {
    const sku = await product(api);
    const ok = await held(api, sku);
    const key = { 'idempotency-key': `c-${ok}` };
    expect((await confirm(api, ok, 'tok_ok', key)).status).toBe(200);
    expect((await confirm(api, ok, 'tok_ok', key)).headers.get('idempotent-replayed')).toBe('true');
    expect((await confirm(api, ok, 'tok_declined', key)).status).toBe(422);
    expect((await confirm(api, await held(api, sku), 'tok_declined')).status).toBe(402);
    const released = await held(api, sku);
    await req('POST', `/v1/reservations/${released}/release`);
    expect((await confirm(api, released)).status).toBe(409);
    const expired = await held(api, sku, { ttl_ms: 1_000 });
    await advanceClock(api.runtime.engine, 1_000);
    expect((await confirm(api, expired)).status).toBe(410);
    expect((await confirm(api, '1.aaaaaaaaaaaaaaaa')).status).toBe(404);
    expect((await req('POST', `/v1/reservations/${ok}/confirm`, { body: { payment: {} } })).body.errors).toEqual([
      { pointer: '/payment/token', message: expect.any(String) }]);
    expect((await confirm(api, ok, 'tok_ok', { 'idempotency-key': 'k'.repeat(256) })).status).toBe(400);
    expect((await req('POST', '/v1/reservations/%E0%A4%A/confirm', { body: { payment: { token: 'tok_ok' } } })).status).toBe(400);
    await bodyErrors('POST', `/v1/reservations/${ok}/confirm`, 'client');
    await authErrors('POST', `/v1/reservations/${ok}/confirm`, false);
  });

  it('confirm: 202 with Retry-After while the provider has not answered; release meanwhile: 409 payment in progress', async () => {
    const id = await held(quick, await product(quick));
    const pending = await confirm(quick, id, 'tok_timeout');
    expect(pending.status).toBe(202);
    expect((await hit(quick, 'POST', `/v1/reservations/${id}/release`)).body.type).toBe('/problems/payment-in-progress');
  });

  it('release: 200, 409, 410, 404, 400, 401', async () => {
    const sku = await product(api);
    expect((await req('POST', `/v1/reservations/${await held(api, sku)}/release`)).status).toBe(200);
    const confirmed = await held(api, sku);
    await confirm(api, confirmed);
    expect((await req('POST', `/v1/reservations/${confirmed}/release`)).body.type).toBe('/problems/reservation-confirmed');
    const expired = await held(api, sku, { ttl_ms: 1_000 });
    await advanceClock(api.runtime.engine, 1_000);
    expect((await req('POST', `/v1/reservations/${expired}/release`)).status).toBe(410);
    expect((await req('POST', '/v1/reservations/1.aaaaaaaaaaaaaaaa/release')).status).toBe(404);
    expect((await req('POST', '/v1/reservations/%E0%A4%A/release')).status).toBe(400);
    const owned = await held(api, sku, { user_id: 'owner-r' });
    expect((await req('POST', `/v1/reservations/${owned}/release`, { body: { user_id: 'someone-else' } })).status).toBe(404);
    expect((await req('POST', `/v1/reservations/${owned}/release`, { body: { user_id: '' } })).status).toBe(422);
    await bodyErrors('POST', `/v1/reservations/${owned}/release`, 'client');
    expect((await req('POST', `/v1/reservations/${owned}/release`, { body: { user_id: 'owner-r' } })).status).toBe(200);
    await authErrors('POST', `/v1/reservations/${confirmed}/release`, false);
  });
});

describe('orders', () => {
  it('GET /v1/orders/{id} (200 once written through, 404, 400, 401) and GET /v1/users/{user_id}/orders (200, 400, 401)', async () => {
    const id = await held(api, await product(api), { user_id: 'order-reader' });
    const orderId = (await confirm(api, id)).body.order_id;
    await waitFor(async () => (await call(api.url, 'GET', `/v1/orders/${orderId}`)).status === 200, 20_000, 'the order written through');
    expect((await req('GET', `/v1/orders/${orderId}`)).status).toBe(200);
    expect((await req('GET', `/v1/orders/${orderId}?user_id=order-reader`)).status).toBe(200);
    expect((await req('GET', `/v1/orders/${orderId}?user_id=someone-else`)).status).toBe(404);
    expect((await req('GET', `/v1/orders/${orderId}?user_id=${'u'.repeat(129)}`)).status).toBe(400);
    expect((await req('GET', '/v1/orders/o1.nothing')).status).toBe(404);
    expect((await req('GET', '/v1/orders/%E0%A4%A')).status).toBe(400);
    await authErrors('GET', `/v1/orders/${orderId}`, false);
    const list = await req('GET', '/v1/users/order-reader/orders?limit=1');
    expect(list.body.items).toHaveLength(1);
    for (const query of ['limit=101', 'cursor=zzz', 'cursor=']) expect((await req('GET', `/v1/users/u/orders?${query}`)).status, query).toBe(400);
    expect((await req('GET', `/v1/users/${'u'.repeat(129)}/orders`)).status).toBe(400);
    await authErrors('GET', '/v1/users/u/orders', false);
  });
});

describe('operations and problem types', () => {
  it('/healthz, /readyz (public and admin), /metrics (200, 401, 403), /openapi.json', async () => {
    expect((await req('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await req('GET', '/readyz', { token: null })).body).toEqual({ status: 'ready' });
    expect((await req('GET', '/readyz', { token: 'admin' })).body.reasons).toEqual([]);
    expect((await req('GET', '/metrics', { token: 'admin' })).status).toBe(200);
    await authErrors('GET', '/metrics', true);
    expect((await req('GET', '/openapi.json', { token: null })).status).toBe(200);
  });

  it('every problem type the API answers with resolves to its documentation; an unknown one is 404', async () => {
    const list = await req('GET', '/problems', { token: null });
    const slugs = list.body.items.map((p: { type: string }) => p.type.replace('/problems/', ''));
    for (const slug of slugs) {
      const doc = await req('GET', `/problems/${slug}`, { token: null });
      expect(doc.body).toMatchObject({ type: `/problems/${slug}`, description: expect.stringMatching(/\w{3}/) });
    }
    expect((await req('GET', '/problems/no-such-thing', { token: null })).status).toBe(404);
    expect((await req('GET', '/problems/%E0%A4%A', { token: null })).status).toBe(400);
  });
});

/** A request for each operation of the document: sample path values, a valid body, a key where one is required; the admin token (it may call everything). */
function everyOperation(): { operation: string; method: string; path: string; body?: unknown; headers: Record<string, string> }[] {
  const samples: Record<string, string> = { sku: 'OA-S', id: '1.aaaaaaaaaaaaaaaa', user_id: 'u', slug: 'not-found' };
  const bodies: Record<string, unknown> = {
    CreateProduct: { sku: 'OA-S', name: 's', price_cents: 1, stock: 1 }, AdjustStock: { delta: 1 },
    CreateReservation: { user_id: 'u', items: [{ sku: 'OA-S', qty: 1 }] }, Confirm: { payment: { token: 'tok_ok' } },
  };
  return Object.entries((conformance.doc as any).paths).flatMap(([template, ops]: [string, any]) => Object.entries(ops).map(([method, op]: [string, any]) => {
    const ref: string | undefined = op.requestBody?.content['application/json'].schema.$ref;
    return {
      operation: `${method.toUpperCase()} ${template}`,
      method: method.toUpperCase(),
      path: template.replace(/\{(\w+)\}/g, (_, name: string) => samples[name]!),
      body: ref ? bodies[ref.split('/').pop()!] : undefined,
      headers: (op.parameters?.some((p: any) => p.name === 'Idempotency-Key' && p.required) ? { 'idempotency-key': `every-${++n}` } : {}) as Record<string, string>,
    };
  }));
}

describe('every operation under load and faults', () => {
  it('429 with Retry-After for every route a token may call, past the per-token rate', async () => {
    const limited = await testApi({ api: { rateLimitTokenPerSec: 1 } });
    try {
      const ops = everyOperation().filter((o) => (conformance.doc as any).paths[o.operation.split(' ')[1]!][o.method.toLowerCase()].security.length > 0);
      // Both requests of a round must fall in one window of the limiter: start just after one begins; retry when a round straddled two.
      await waitFor(async () => {
        await waitFor(async () => Date.now() % 1_000 < 100, 2_000, 'the start of a rate-limit window');
        await call(limited.url, 'GET', '/v1/products', { token: 'admin' });
        const answers = await Promise.all(ops.map((o) => hit(limited, o.method, o.path, { token: 'admin', body: o.body, headers: o.headers })));
        return answers.every((a) => a.status === 429);
      }, 30_000, 'a round of 429s');
    } finally {
      await limited.close();
    }
  });

  it('503 overloaded with Retry-After when the write-through backlog is past its limit', async () => {
    const full = await testApi({ engine: { partitions: 1, outboxLengthMax: 1 } });
    try {
      await product(full);
      await product(full); // two product events in the one outbox, and no workers
      const refused = await hit(full, 'POST', '/v1/reservations', { body: { user_id: 'u', items: [{ sku: `OA-${n}`, qty: 1 }] }, headers: { 'idempotency-key': 'full' } });
      expect(refused.body.type).toBe('/problems/overloaded');
      // /readyz answers from checks made in the background: once one has seen the backlog.
      await waitFor(async () => (await hit(full, 'GET', '/readyz', { token: 'admin' })).body.reasons?.includes('outbox_backlog'), 20_000, 'backlog seen');
      expect((await hit(full, 'GET', '/readyz', { token: 'admin' })).body.reasons).toEqual(['outbox_backlog']);
    } finally {
      await full.close();
    }
  });

  it('500 internal with a request id when a script call fails in a way no retry fixes', async () => {
    let failing = false;
    const faulty = await testApi({ faults: { beforeScript: () => { if (failing) throw new Error('injected failure'); } } });
    try {
      failing = true;
      const answers = await Promise.all(everyOperation().map((o) => hit(faulty, o.method, o.path, { token: 'admin', body: o.body, headers: o.headers })));
      const internal = answers.filter((a) => a.status === 500);
      expect(internal.length).toBeGreaterThan(0);
      for (const a of internal) expect(a.body.request_id).toBe(a.headers.get('x-request-id'));
    } finally {
      failing = false;
      await faulty.close();
    }
  });

  it('503 unavailable (and /readyz 503 not ready) while Redis and PostgreSQL are unreachable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stockade-redis-'));
    const redis = await startRedis({ dir, port: await freePort() });
    const dark = await testApi({ redisUrl: redis.url });
    try {
      await stopRedis(dir);
      await dark.runtime.sql.end();
      await waitFor(async () => (await call(dark.url, 'GET', '/readyz', { token: 'admin' })).status === 503, 20_000, 'a check saw the stores gone');
      const answers = await Promise.all(everyOperation().map((o) => hit(dark, o.method, o.path, { token: 'admin', body: o.body, headers: o.headers })));
      expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(10);
    } finally {
      await dark.close();
      await stopRedis(dir);
    }
  });

  it('503 unavailable with Retry-After from every route while the server shuts down', async () => {
    const closing = await testApi();
    const ops = everyOperation();
    const sockets = await Promise.all(ops.map(() => openConnection(closing.server.port)));
    try {
      for (const s of sockets) expect((await s.exchange('GET', '/healthz', {})).status).toBe(200);
      const stopped = closing.server.close(1_000);
      const answers = await Promise.all(ops.map((o, i) => sockets[i]!.exchange(o.method, o.path, o.headers, o.body)));
      for (const [i, a] of answers.entries()) {
        expect(a.status, ops[i]!.operation).toBe(503);
        expect(conformance.check(ops[i]!.method, ops[i]!.path, a), ops[i]!.operation).toEqual([]);
      }
      await stopped;
    } finally {
      for (const s of sockets) s.socket.destroy();
      await closing.writeThrough?.stop();
      await closing.runtime.close();
    }
  });
});

describe('coverage', () => {
  it('every declared status of every operation was answered above, but for those named here with their reason', () => {
    expect(conformance.unseen({
      // A script that fails for good is the one fault the test can inject; routes that run none cannot be made to fail without a mock.
      'GET /healthz': ['500'], 'GET /openapi.json': ['500'], 'GET /problems': ['500'], 'GET /problems/{slug}': ['500'],
      'GET /v1/orders/{id}': ['500'], 'GET /v1/users/{user_id}/orders': ['500'], 'GET /metrics': ['500'], 'GET /readyz': ['500'],
      'GET /v1/products': ['500'], 'GET /v1/products/{sku}': ['500'],
    })).toEqual({});
  });
});

/** A kept-alive connection to send raw requests on (what fetch will not: a request on a connection opened before the shutdown). */
function openConnection(port: number): Promise<{ socket: Socket; exchange: (method: string, path: string, headers: Record<string, string>, body?: unknown) => Promise<Answer> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let waiting: (() => void) | null = null;
    socket.on('data', (d) => { buffer = Buffer.concat([buffer, d]); waiting?.(); });
    socket.on('error', reject);
    socket.on('connect', () => resolve({
      socket,
      exchange: (method, path, headers, body) => new Promise<Answer>((done) => {
        const payload = body === undefined ? '' : JSON.stringify(body);
        const lines = [`${method} ${path} HTTP/1.1`, 'Host: x', `Authorization: Bearer ${tokens.admin}`, `Content-Length: ${Buffer.byteLength(payload)}`,
          ...(body === undefined ? [] : ['Content-Type: application/json']), ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
        buffer = Buffer.alloc(0);
        waiting = () => {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const [statusLine, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
          const parsed = new Headers(headerLines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
          const length = Number(parsed.get('content-length') ?? 0);
          if (buffer.length < end + 4 + length) return;
          const text = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
          waiting = null;
          done({ status: Number(statusLine!.split(' ')[1]), headers: parsed, body: text ? JSON.parse(text) : null });
        };
        socket.write(`${lines.join('\r\n')}\r\n\r\n${payload}`);
      }),
    }));
  });
}
