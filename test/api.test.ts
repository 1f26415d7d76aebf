import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from './support/engine.ts';
import { call, testApi, type Answer, type TestApi, waitFor } from './support/api.ts';

// Every route and every error row of DESIGN.md §4, over HTTP, against a real
// server, Redis and PostgreSQL.
let api: TestApi;
/** A server whose payment timeout is short, for the provider that does not answer in time (tok_timeout). */
let quick: TestApi;
let n = 0;
let target: () => TestApi = () => api;
const req = (method: string, path: string, o: Parameters<typeof call>[3] = {}) => call(target().url, method, path, o);

beforeAll(async () => { [api, quick] = await Promise.all([testApi(), testApi({ api: { paymentTimeoutMs: 300 } })]); });
afterAll(() => Promise.all([api.close(), quick.close()]));

/** Runs a test's requests against the quick-timeout server. */
async function onQuick(body: () => Promise<void>): Promise<void> {
  target = () => quick;
  try {
    await body();
  } finally {
    target = () => api;
  }
}

function expectProblem(a: Answer, status: number, slug: string) {
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(a.headers.get('content-type')).toBe('application/problem+json');
  expect(a.body).toMatchObject({ type: `/problems/${slug}`, status, title: expect.any(String), detail: expect.any(String) });
  expect(JSON.stringify(a.body)).not.toMatch(/at .*\.ts|ERR |redis|select |insert /i);
}

async function product(stock = 10, extra: Record<string, unknown> = {}) {
  const sku = `API-${++n}`;
  const a = await req('POST', '/v1/products', { token: 'admin', body: { sku, name: `Thing ${n}`, price_cents: 1250, stock, ...extra } });
  expect(a.status).toBe(201);
  return sku;
}

const reserve = (body: unknown, key = `k-${++n}`, token: 'client' | 'admin' = 'client') =>
  req('POST', '/v1/reservations', { token, body, headers: { 'idempotency-key': key } });

async function held(sku: string, qty = 1, extra: Record<string, unknown> = {}) {
  const a = await reserve({ user_id: `u-${n}`, items: [{ sku, qty }], ...extra });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  return a.body as { id: string; total_cents: number };
}

describe('products', () => {
  it('POST /v1/products: 201 with the product; 409 exists; 422 invalid', async () => {
    const a = await req('POST', '/v1/products', { token: 'admin', body: { sku: 'P-1', name: 'Sneaker', price_cents: 12900, stock: 5, per_user_limit: 2 } });
    expect(a.status).toBe(201);
    expect(a.headers.get('content-type')).toBe('application/json');
    expect(a.body).toEqual({ sku: 'P-1', name: 'Sneaker', price_cents: 12900, per_user_limit: 2, stock: { total: 5, available: 5, reserved: 0, sold: 0 } });
    expectProblem(await req('POST', '/v1/products', { token: 'admin', body: { sku: 'P-1', name: 'x', price_cents: 1, stock: 1 } }), 409, 'product-exists');
    for (const body of [
      { sku: 'P-2', price_cents: 1, stock: 1 },
      { sku: 'P 2', name: 'x', price_cents: 1, stock: 1 },
      { sku: 'P-2', name: 'x', price_cents: -1, stock: 1 },
      { sku: 'P-2', name: 'x', price_cents: 1.5, stock: 1 },
      { sku: 'P-2', name: 'x', price_cents: 1, stock: 1, color: 'red' },
    ]) expectProblem(await req('POST', '/v1/products', { token: 'admin', body }), 422, 'invalid-request');
    const noLimit = await req('POST', '/v1/products', { token: 'admin', body: { sku: 'P-3', name: 'x', price_cents: 1, stock: 1 } });
    expect(noLimit.body.per_user_limit).toBeNull();
  });

  it('admin routes: 401 without or with a wrong token, 403 with the client token, each saying which in WWW-Authenticate (RFC 6750)', async () => {
    const body = { sku: 'P-9', name: 'x', price_cents: 1, stock: 1 };
    const none = await req('POST', '/v1/products', { token: null, body });
    expectProblem(none, 401, 'unauthorized');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await req('POST', '/v1/products', { token: 'nope', body });
    expectProblem(wrong, 401, 'unauthorized');
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const basic = await req('POST', '/v1/products', { token: null, body, headers: { authorization: 'Basic dTpw' } });
    expect(basic.headers.get('www-authenticate')).toBe('Bearer');
    const client = await req('POST', '/v1/products', { token: 'client', body });
    expectProblem(client, 403, 'forbidden');
    expect(client.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope"');
    // No more than that: neither answer names a token or a role.
    for (const a of [none, wrong, client]) expect(JSON.stringify(a.body)).not.toMatch(/test-(admin|client)-token|client token/);
    expectProblem(await req('POST', '/v1/products/P-1/stock', { token: 'client', body: { delta: 1 } }), 403, 'forbidden');
    expectProblem(await req('GET', '/v1/products', { token: null }), 401, 'unauthorized');
    expectProblem(await req('GET', '/v1/reservations/1.abc', { token: 'wrong' }), 401, 'unauthorized');
  });

  it('GET /v1/products pages through every product in SKU order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const a: Answer = await req('GET', `/v1/products?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(a.status).toBe(200);
      expect(a.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...a.body.items.map((p: { sku: string }) => p.sku));
      cursor = a.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(['P-1', 'P-3']));
    expectProblem(await req('GET', '/v1/products?limit=0'), 400, 'bad-request');
    expectProblem(await req('GET', '/v1/products?limit=abc'), 400, 'bad-request');
    // A cursor this API did not give (not base64url, not canonical, empty, or not a SKU) is 400, as the README promises.
    for (const bad of ['%24%24%24', 'zzz', 'YWJj%3D', '', Buffer.from('a b').toString('base64url'), Buffer.from('x'.repeat(65)).toString('base64url')]) {
      expectProblem(await req('GET', `/v1/products?cursor=${bad}`), 400, 'bad-request');
    }
  });

  it('GET /v1/products/{sku}: 200, 404', async () => {
    expect((await req('GET', '/v1/products/P-1')).body.sku).toBe('P-1');
    expectProblem(await req('GET', '/v1/products/NOPE'), 404, 'not-found');
    expectProblem(await req('GET', '/v1/products/%E0%A4%A'), 400, 'bad-request');
  });

  it('POST /v1/products/{sku}/stock: restock, shrink; 409 below zero; 404; 422', async () => {
    const sku = await product(5);
    expect((await req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: 5 } })).body.stock).toMatchObject({ total: 10, available: 10 });
    await held(sku, 4);
    const tooMuch = await req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: -7 } });
    expectProblem(tooMuch, 409, 'stock-would-go-negative');
    expect(tooMuch.body).toMatchObject({ sku, available: 6 });
    expect((await req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: -6 } })).body.stock)
      .toEqual({ total: 4, available: 0, reserved: 4, sold: 0 });
    expectProblem(await req('POST', '/v1/products/NOPE/stock', { token: 'admin', body: { delta: 1 } }), 404, 'not-found');
    expectProblem(await req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: 0 } }), 422, 'invalid-request');
    expectProblem(await req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta: '1' } }), 422, 'invalid-request');
  });

  it('POST /v1/products/{sku}/stock with an Idempotency-Key: a retried restock applies once; another delta is 422', async () => {
    const sku = await product(10);
    const restock = (delta: number, key: string) => req('POST', `/v1/products/${sku}/stock`, { token: 'admin', body: { delta }, headers: { 'idempotency-key': key } });
    const first = await restock(5, `rs-${sku}`);
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await restock(5, `rs-${sku}`);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await req('GET', `/v1/products/${sku}`)).body.stock.total).toBe(15);
    expectProblem(await restock(6, `rs-${sku}`), 422, 'idempotency-key-reused');
    // A refused shrink is remembered too: the replay answers 409 again even after a restock.
    const shrink = await restock(-100, `sh-${sku}`);
    expectProblem(shrink, 409, 'stock-would-go-negative');
    await restock(200, `rs2-${sku}`);
    const replay = await restock(-100, `sh-${sku}`);
    expectProblem(replay, 409, 'stock-would-go-negative');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await req('GET', `/v1/products/${sku}`)).body.stock.total).toBe(215);
  });
});

describe('reservations', () => {
  it('POST: 201 reservation; replay answers the same with Idempotent-Replayed; another body is 422', async () => {
    const sku = await product(10);
    const body = { user_id: 'alice', items: [{ sku, qty: 2 }], ttl_ms: 60_000 };
    const first = await reserve(body, 'same-key');
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ id: expect.any(String), status: 'held', user_id: 'alice', items: [{ sku, qty: 2, price_cents: 1250 }],
      total_cents: 2500, expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await reserve(body, 'same-key');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expectProblem(await reserve({ ...body, items: [{ sku, qty: 3 }] }, 'same-key'), 422, 'idempotency-key-reused');
    // Keys are scoped to the calling token.
    expect((await reserve({ ...body, items: [{ sku, qty: 3 }] }, 'same-key', 'admin')).status).toBe(201);
    expect((await req('GET', `/v1/products/${sku}`)).body.stock.reserved).toBe(5);
  });

  it('POST: 400 without an Idempotency-Key or with one over 255 characters', async () => {
    const sku = await product(10);
    const body = { user_id: 'u', items: [{ sku, qty: 1 }] };
    expectProblem(await req('POST', '/v1/reservations', { body }), 400, 'idempotency-key-required');
    expectProblem(await reserve(body, 'k'.repeat(256)), 400, 'bad-request');
    expect((await reserve(body, 'k'.repeat(255))).status).toBe(201);
  });

  it('POST: 409 out of stock (names the sku and what is available), 409 per-user limit, 422 unknown sku', async () => {
    const sku = await product(3, { per_user_limit: 2 });
    const oos = await reserve({ user_id: 'u', items: [{ sku, qty: 4 }] });
    expectProblem(oos, 409, 'out-of-stock');
    expect(oos.body).toMatchObject({ sku, available: 3 });
    await held(sku, 2, { user_id: 'bob' });
    const limit = await reserve({ user_id: 'bob', items: [{ sku, qty: 1 }] });
    expectProblem(limit, 409, 'per-user-limit');
    expect(limit.body).toMatchObject({ sku, limit: 2 });
    const unknown = await reserve({ user_id: 'u', items: [{ sku: 'GHOST', qty: 1 }] });
    expectProblem(unknown, 422, 'unknown-sku');
    expect(unknown.body.sku).toBe('GHOST');
  });

  it('POST: 422 for every invalid body', async () => {
    const sku = await product(10);
    const line = { sku, qty: 1 };
    for (const body of [
      {}, { user_id: 'u' }, { user_id: 'u', items: [] }, { user_id: '', items: [line] },
      { user_id: 'u'.repeat(129), items: [line] }, { user_id: 7, items: [line] },
      { user_id: 'u', items: [{ sku, qty: 0 }] }, { user_id: 'u', items: [{ sku, qty: 1.5 }] },
      { user_id: 'u', items: [{ sku, qty: 1001 }] }, { user_id: 'u', items: [{ sku, qty: -1 }] },
      { user_id: 'u', items: [{ sku, qty: 1e300 }] }, { user_id: 'u', items: [{ sku, qty: '1' }] },
      { user_id: 'u', items: Array.from({ length: 21 }, (_, i) => ({ sku: `S${i}`, qty: 1 })) },
      { user_id: 'u', items: [line], ttl_ms: 999 }, { user_id: 'u', items: [line], ttl_ms: 3_600_001 },
      { user_id: 'u', items: [line], extra: true }, { user_id: 'u', items: [{ ...line, note: 'x' }] },
      { user_id: 'u', items: [line, line] }, [line], 'text', null,
    ]) {
      const a = await reserve(body);
      expectProblem(a, 422, 'invalid-request');
      expect(a.body.errors.length).toBeGreaterThan(0);
    }
    expect((await req('GET', `/v1/products/${sku}`)).body.stock.reserved).toBe(0);
  });

  it('POST: a 422 lists every field at fault (a JSON pointer and a message each) and says them in detail', async () => {
    const sku = await product(10);
    const a = await reserve({ user_id: '', items: [{ sku, qty: 0 }, { sku: 'bad sku', qty: 1 }, { sku, qty: 2, note: 'x' }], ttl_ms: 1, extra: true });
    expectProblem(a, 422, 'invalid-request');
    expect(a.body.errors).toEqual([
      { pointer: '/extra', message: 'Unexpected property' },
      { pointer: '/user_id', message: expect.stringMatching(/length/) },
      { pointer: '/items/0/qty', message: expect.stringMatching(/greater or equal to 1/) },
      { pointer: '/items/1/sku', message: expect.stringMatching(/to match/) },
      { pointer: '/items/2/note', message: 'Unexpected property' },
      { pointer: '/ttl_ms', message: expect.stringMatching(/greater or equal to 1000/) },
    ]);
    expect(a.body.detail).toMatch(/^6 fields are invalid: \/extra: Unexpected property; \/user_id: /);
    const whole = await reserve('text');
    expect(whole.body).toMatchObject({ detail: '/: Expected object', errors: [{ pointer: '', message: 'Expected object' }] });
    // However many fields are wrong, at most 20 are listed.
    const many = await reserve({ user_id: 'u', items: Array.from({ length: 20 }, () => ({ sku: 'a b', qty: 0 })) });
    expect(many.body.errors).toHaveLength(20);
  });

  it('GET /v1/reservations/{id}: 200, 404', async () => {
    const sku = await product(10);
    const r = await held(sku);
    const a = await req('GET', `/v1/reservations/${r.id}`);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ id: r.id, status: 'held' });
    expectProblem(await req('GET', '/v1/reservations/1.aaaaaaaaaaaaaaaa'), 404, 'not-found');
    expectProblem(await req('GET', '/v1/reservations/nonsense'), 404, 'not-found');
  });

  it('confirm: 200 with order and captured payment; a repeat answers the same', async () => {
    const sku = await product(10);
    const r = await held(sku, 2);
    const a = await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body).toEqual({ reservation: expect.objectContaining({ id: r.id, status: 'confirmed' }), order_id: expect.any(String),
      payment: { status: 'captured', amount_cents: 2500 } });
    const again = await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(a.body);
    expect((await req('GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 10, available: 8, reserved: 0, sold: 2 });
  });

  it('confirm: 402 declined releases the hold at once, and answers 402 again', async () => {
    const sku = await product(10);
    const r = await held(sku, 3);
    expectProblem(await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_declined' } } }), 402, 'payment-declined');
    expect((await req('GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 10, available: 10, reserved: 0, sold: 0 });
    expect((await req('GET', `/v1/reservations/${r.id}`)).body.status).toBe('released');
    expectProblem(await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_ok' } } }), 402, 'payment-declined');
  });

  it('confirm: 410 expired, 409 released, 404 unknown, 422 invalid body', async () => {
    const sku = await product(10);
    const e = await held(sku, 1, { ttl_ms: 1_000 });
    await advanceClock(api.runtime.engine, 1_000);
    expectProblem(await req('POST', `/v1/reservations/${e.id}/confirm`, { body: { payment: { token: 'tok_ok' } } }), 410, 'reservation-expired');
    const r = await held(sku);
    expect((await req('POST', `/v1/reservations/${r.id}/release`)).status).toBe(200);
    expectProblem(await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_ok' } } }), 409, 'reservation-released');
    expectProblem(await req('POST', '/v1/reservations/1.aaaaaaaaaaaaaaaa/confirm', { body: { payment: { token: 'tok_ok' } } }), 404, 'not-found');
    expectProblem(await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: {} } }), 422, 'invalid-request');
    expectProblem(await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'x'.repeat(256) } } }), 422, 'invalid-request');
  });

  it('confirm: an Idempotency-Key replays with the header; with another body it is refused', async () => {
    const sku = await product(10);
    const r = await held(sku);
    const headers = { 'idempotency-key': `c-${r.id}` };
    const first = await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_ok' } }, headers });
    const again = await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_ok' } }, headers });
    expect(first.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expectProblem(await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_declined' } }, headers }), 422, 'idempotency-key-reused');
  });

  it('confirm: a provider that does not answer in time gives 202; the outcome follows on retry', () => onQuick(async () => {
    const sku = await product(10);
    const r = await held(sku);
    const pending = await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_timeout' } } });
    expect(pending.status).toBe(202);
    expect(pending.body).toMatchObject({ reservation_id: r.id, status: 'paying' });
    expect((await req('GET', `/v1/reservations/${r.id}`)).body.status).toBe('paying');
    const done = await req('POST', `/v1/reservations/${r.id}/confirm`, { body: { payment: { token: 'tok_timeout' } } });
    expect(done.status).toBe(200);
    expect(done.body.reservation.status).toBe('confirmed');
  }));

  it('release: 200 released (again 200); 409 confirmed; 409 payment in progress; 410 expired; 404', () => onQuick(async () => {
    const sku = await product(10);
    const r = await held(sku, 2);
    const a = await req('POST', `/v1/reservations/${r.id}/release`);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ id: r.id, status: 'released' });
    expect((await req('POST', `/v1/reservations/${r.id}/release`)).status).toBe(200);
    const c = await held(sku);
    await req('POST', `/v1/reservations/${c.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
    expectProblem(await req('POST', `/v1/reservations/${c.id}/release`), 409, 'reservation-confirmed');
    const p = await held(sku);
    await req('POST', `/v1/reservations/${p.id}/confirm`, { body: { payment: { token: 'tok_timeout' } } });
    expectProblem(await req('POST', `/v1/reservations/${p.id}/release`), 409, 'payment-in-progress');
    const e = await held(sku, 1, { ttl_ms: 1_000 });
    await advanceClock(quick.runtime.engine, 1_000);
    expectProblem(await req('POST', `/v1/reservations/${e.id}/release`), 410, 'reservation-expired');
    expectProblem(await req('POST', '/v1/reservations/1.aaaaaaaaaaaaaaaa/release'), 404, 'not-found');
  }));

  it('100 identical requests at the same moment: one hold, one answer for all', async () => {
    const sku = await product(1000);
    const body = { user_id: 'burst', items: [{ sku, qty: 3 }] };
    const answers = await Promise.all(Array.from({ length: 100 }, () => reserve(body, 'burst-key')));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(99);
    expect((await req('GET', `/v1/products/${sku}`)).body.stock.reserved).toBe(3);
  });
});

describe('orders', () => {
  it('GET /v1/orders/{id}: 404 until written through; GET /v1/users/{id}/orders: 200 {items}', async () => {
    expectProblem(await req('GET', '/v1/orders/o1.nothing'), 404, 'not-found');
    const list = await req('GET', '/v1/users/nobody/orders');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [], next_cursor: null });
    expectProblem(await req('GET', '/v1/users/nobody/orders?limit=101'), 400, 'bad-request');
    expectProblem(await req('GET', '/v1/users/nobody/orders?cursor=zzz'), 400, 'bad-request');
  });
});

describe('operations', () => {
  it('/healthz, /readyz, /openapi.json are public; /metrics needs the admin token', async () => {
    expect((await req('GET', '/healthz', { token: null })).body).toEqual({ status: 'ok' });
    // The detail of readiness is for the admin token only: anyone else (a client token, a wrong one, none) sees the status.
    for (const token of [null, 'client', 'wrong']) expect((await req('GET', '/readyz', { token })).body).toEqual({ status: 'ready' });
    expect((await req('GET', '/readyz', { token: 'admin' })).body).toEqual({ status: 'ready', reasons: [],
      checks: { redis: 'ok', postgres: 'ok', fenced: false }, outbox_backlog: expect.any(Number), outbox_parked: 0,
      memory: { used_bytes: expect.any(Number), max_bytes: expect.any(Number), high_watermark_pct: 85, overloaded: false } });
    const doc = await req('GET', '/openapi.json', { token: null });
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/products', '/v1/reservations/{id}/confirm', '/v1/users/{user_id}/orders']));
    expect(doc.body.paths['/v1/reservations'].post.responses['409'].content['application/problem+json'].schema.discriminator.mapping['/problems/out-of-stock'])
      .toBe('#/components/schemas/OutOfStockProblem');
    expectProblem(await req('GET', '/metrics', { token: 'client' }), 403, 'forbidden');
    const metrics = await req('GET', '/metrics', { token: 'admin' });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.body).toMatch(/stockade_http_requests_total\{route="\/v1\/reservations",status="201"\} \d+/);
    expect(metrics.body).toMatch(/stockade_http_request_duration_seconds_bucket/);
    expect(metrics.body).toMatch(/stockade_stock_units\{sku="P-1",state="available"\} \d+/);
    expect(metrics.body).toMatch(/stockade_queue_depth\{queue="outbox"\} \d+/);
    expect(metrics.body).toMatch(/^stockade_outbox_parked_entries 0$/m);
    expect(metrics.body).toMatch(/stockade_reserve_batch_size_bucket/);
  });

  it('unknown routes are 404, known routes with another method 405 with Allow', async () => {
    expectProblem(await req('GET', '/v2/nothing'), 404, 'not-found');
    const a = await req('DELETE', '/v1/products');
    expectProblem(a, 405, 'method-not-allowed');
    expect(a.headers.get('allow')).toBe('POST, GET');
    expectProblem(await req('PUT', '/v1/reservations/1.x/confirm'), 405, 'method-not-allowed');
  });

  it('/readyz: PostgreSQL down is degraded (200), Redis down is not ready (503 with Retry-After)', async () => {
    const down = await testApi();
    try {
      await down.runtime.sql.end();
      // /readyz answers from checks made in the background: wait for one that saw the change.
      const a = await waitFor(async () => { const r = await call(down.url, 'GET', '/readyz', { token: 'admin' }); return r.body.status === 'degraded' && r; }, 20_000, 'degraded');
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ status: 'degraded', reasons: ['postgres_unreachable'], checks: { redis: 'ok', postgres: 'down', fenced: false } });
      down.runtime.redis.disconnect();
      const b = await waitFor(async () => { const r = await call(down.url, 'GET', '/readyz', { token: 'admin' }); return r.status === 503 && r; }, 20_000, 'not ready');
      expect(b.status).toBe(503);
      expect(b.headers.get('retry-after')).toBe('1');
      expect(b.body).toMatchObject({ status: 'not_ready', reasons: ['redis_unreachable', 'postgres_unreachable'], checks: { redis: 'down', postgres: 'down' } });
      expect((await call(down.url, 'GET', '/readyz', { token: null })).body).toEqual({ status: 'not_ready' });
    } finally {
      await down.close();
    }
  });

  it('reservation limits follow the engine settings of this runtime (here: 2 lines, ttl_ms 5,000..6,000)', async () => {
    const narrow = await testApi({ engine: { cartLinesMax: 2, holdTtlMsMin: 5_000, holdTtlMsDefault: 5_500, holdTtlMsMax: 6_000 } });
    try {
      for (const sku of ['N-1', 'N-2', 'N-3']) await call(narrow.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 1, stock: 5 } });
      const post = (body: unknown, key: string) => call(narrow.url, 'POST', '/v1/reservations', { body, headers: { 'idempotency-key': key } });
      const three = [{ sku: 'N-1', qty: 1 }, { sku: 'N-2', qty: 1 }, { sku: 'N-3', qty: 1 }];
      expectProblem(await post({ user_id: 'u', items: three }, 'n1'), 422, 'invalid-request');
      expectProblem(await post({ user_id: 'u', items: three.slice(0, 1), ttl_ms: 7_000 }, 'n2'), 422, 'invalid-request');
      expect((await post({ user_id: 'u', items: three.slice(0, 2), ttl_ms: 6_000 }, 'n3')).status).toBe(201);
      const doc = await call(narrow.url, 'GET', '/openapi.json', { token: null });
      expect(doc.body.components.schemas.CreateReservation.properties.items.maxItems).toBe(2);
    } finally {
      await narrow.close();
    }
  });

  it('rate limits per user and per token answer 429 with Retry-After', async () => {
    const limited = await testApi({ api: { rateLimitUserPerSec: 3, rateLimitTokenPerSec: 1000 } });
    try {
      await call(limited.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'RL', name: 'x', price_cents: 1, stock: 100 } });
      // The limit counts per one-second window of the API's clock: six requests sent sequentially on a
      // loaded machine could straddle two windows (three in each, none refused). Start them just after a
      // window begins, all at once, so they land in one window.
      await waitFor(async () => Date.now() % 1_000 < 100, 2_000, 'the start of a rate-limit window');
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call(limited.url, 'POST', '/v1/reservations',
        { body: { user_id: 'spammer', items: [{ sku: 'RL', qty: 1 }] }, headers: { 'idempotency-key': `rl-${i}` } })));
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(2);
      expectProblem(refused[0]!, 429, 'rate-limited');
      expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Another user is not limited by the spammer.
      expect((await call(limited.url, 'POST', '/v1/reservations', { body: { user_id: 'other', items: [{ sku: 'RL', qty: 1 }] }, headers: { 'idempotency-key': 'rl-x' } })).status).toBe(201);
    } finally {
      await limited.close();
    }
  });
});
