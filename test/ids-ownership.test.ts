import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, testApi, type Answer, type TestApi, waitFor } from './support/api.ts';
import { longestCommonSubstring } from './support/ids.ts';

// Issue #11 item 6 (OWASP API1), over HTTP: ids have no guessable successor,
// the order id does not follow from the reservation id, request ids are no
// sequence; and a reservation or order read or acted on with another user's
// user_id answers what an unknown id answers (404) and changes nothing.
let api: TestApi;
let n = 0;

beforeAll(async () => { api = await testApi({ workers: { pollMs: 20 } }); });
afterAll(() => api?.close());

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** The id with its last character incremented (what a client guessing the next id would try). */
const successor = (id: string) => {
  const last = id.at(-1)!;
  const next = base32.includes(last) ? base32[(base32.indexOf(last) + 1) % 32]! : String.fromCharCode(last.charCodeAt(0) + 1);
  return id.slice(0, -1) + next;
};

async function product(stock = 10): Promise<string> {
  const sku = `IO-${++n}`;
  expect((await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock } })).status).toBe(201);
  return sku;
}

async function hold(sku: string, userId: string): Promise<string> {
  const a = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: userId, items: [{ sku, qty: 1 }] },
    headers: { 'idempotency-key': `io-${++n}` } });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  return a.body.id;
}

const get = (id: string, userId?: string) =>
  call(api.url, 'GET', `/v1/reservations/${id}${userId === undefined ? '' : `?user_id=${encodeURIComponent(userId)}`}`);
const confirm = (id: string, token: string, userId?: string, headers: Record<string, string> = {}) =>
  call(api.url, 'POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token }, ...(userId === undefined ? {} : { user_id: userId }) }, headers });
const release = (id: string, userId?: string) =>
  call(api.url, 'POST', `/v1/reservations/${id}/release`, userId === undefined ? {} : { body: { user_id: userId } });
const order = (id: string, userId?: string) =>
  call(api.url, 'GET', `/v1/orders/${id}${userId === undefined ? '' : `?user_id=${encodeURIComponent(userId)}`}`);
const stock = async (sku: string) => (await call(api.url, 'GET', `/v1/products/${sku}`)).body.stock;

/** The answer for `id` is exactly the answer for an unknown id of its shape (status, content type, body but the id itself). */
function expectSameAsUnknown(answer: Answer, unknown: Answer, id: string, unknownId: string) {
  expect(answer.status).toBe(404);
  expect(answer.headers.get('content-type')).toBe(unknown.headers.get('content-type'));
  expect(answer.body).toEqual(JSON.parse(JSON.stringify(unknown.body).replaceAll(unknownId, id)));
}

describe('ids have no guessable successor', () => {
  it('the next id of a reservation or order is unknown (404); the order id shares no 8 characters with the reservation id', async () => {
    const sku = await product();
    const id = await hold(sku, 'alice');
    const guess = successor(id);
    expect(guess).not.toBe(id);
    expect((await get(guess)).status).toBe(404);
    expect((await release(guess)).status).toBe(404);
    expect((await confirm(guess, 'tok_ok')).status).toBe(404);
    const confirmed = await confirm(id, 'tok_ok');
    expect(confirmed.status).toBe(200);
    const orderId: string = confirmed.body.order_id;
    expect(longestCommonSubstring(orderId, id)).toBeLessThan(8);
    await waitFor(async () => (await order(orderId)).status === 200, 20_000, 'the order written through');
    expect((await order(orderId)).body).toMatchObject({ id: orderId, reservation_id: id, user_id: 'alice' });
    expect((await order(successor(orderId))).status).toBe(404);
    expect((await order(`o${id}`)).status).toBe(404); // the old derivation names nothing
  });

  it('two reservations made one after the other by one server share nothing beyond the partition; neither names the other', async () => {
    const sku = await product();
    const first = await hold(sku, 'alice');
    const second = await hold(sku, 'alice');
    const [p1, r1] = first.split('.');
    const [p2, r2] = second.split('.');
    expect(p1).toBe(p2);
    expect(r1!.length * 5).toBeGreaterThanOrEqual(96);
    expect(longestCommonSubstring(r1!, r2!)).toBeLessThan(8);
    expect(successor(first)).not.toBe(second);
  });

  it('request ids are random: 50 answers, 50 ids, no two consecutive sharing 8 characters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await call(api.url, 'GET', '/healthz', { token: null })).headers.get('x-request-id')!);
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[a-z2-7]{24}$/);
    for (let i = 1; i < ids.length; i++) expect(longestCommonSubstring(ids[i - 1]!, ids[i]!)).toBeLessThan(8);
  });
});

describe('user_id: another user\'s reservation or order is not found', () => {
  it('get, confirm (even declined), release with the wrong user_id: 404 as for an unknown id, and the hold stays held', async () => {
    const sku = await product();
    const id = await hold(sku, 'alice');
    const unknownId = successor(id);
    expectSameAsUnknown(await get(id, 'mallory'), await get(unknownId, 'mallory'), id, unknownId);
    expectSameAsUnknown(await confirm(id, 'tok_declined', 'mallory'), await confirm(unknownId, 'tok_declined', 'mallory'), id, unknownId);
    expectSameAsUnknown(await release(id, 'mallory'), await release(unknownId, 'mallory'), id, unknownId);
    // With an Idempotency-Key: refused before the key is claimed, so its owner may use the same key.
    expect((await confirm(id, 'tok_declined', 'mallory', { 'idempotency-key': `ik-${id}` })).status).toBe(404);
    expect((await get(id)).body.status).toBe('held');
    expect(await stock(sku)).toEqual({ total: 10, available: 9, reserved: 1, sold: 0 });

    expect((await get(id, 'alice')).body).toMatchObject({ id, status: 'held', user_id: 'alice' });
    const confirmed = await confirm(id, 'tok_ok', 'alice', { 'idempotency-key': `ik-${id}` });
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    expect(await stock(sku)).toEqual({ total: 10, available: 9, reserved: 0, sold: 1 });
  });

  it('GET /v1/orders/{id} with the wrong user_id: 404 as for an unknown order; with the right one, the order', async () => {
    const id = await hold(await product(), 'bob');
    const orderId: string = (await confirm(id, 'tok_ok', 'bob')).body.order_id;
    await waitFor(async () => (await order(orderId)).status === 200, 20_000, 'the order written through');
    const unknownId = successor(orderId);
    expectSameAsUnknown(await order(orderId, 'mallory'), await order(unknownId, 'mallory'), orderId, unknownId);
    expect((await order(orderId, 'bob')).body).toMatchObject({ id: orderId, reservation_id: id, user_id: 'bob' });
  });

  it('release with the right user_id, or with no body at all (as before), gives the units back', async () => {
    const sku = await product();
    const mine = await hold(sku, 'carol');
    const bare = await hold(sku, 'carol');
    expect((await release(mine, 'carol')).body).toMatchObject({ id: mine, status: 'released' });
    const empty = await call(api.url, 'POST', `/v1/reservations/${bare}/release`, { raw: '', headers: { 'content-type': 'text/plain' } });
    expect(empty.body).toMatchObject({ id: bare, status: 'released' });
    expect(await stock(sku)).toEqual({ total: 10, available: 10, reserved: 0, sold: 0 });
  });

  it('a user_id is 1..128 characters, as when reserving: 400 in a query, 422 in a body', async () => {
    const id = await hold(await product(), 'dave');
    expect((await get(id, '')).status).toBe(400);
    expect((await get(id, 'x'.repeat(129))).status).toBe(400);
    expect((await get(id, 'x'.repeat(128))).status).toBe(404);
    expect((await order('o'.padEnd(25, 'a'), '')).status).toBe(400);
    expect((await confirm(id, 'tok_ok', '')).status).toBe(422);
    expect((await release(id, 'x'.repeat(129))).status).toBe(422);
    expect((await get(id)).body.status).toBe('held');
  });
});
