import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from './support/engine.ts';
import { call, testApi, tokens, waitFor, type TestApi } from './support/api.ts';

// Sagas nobody finished, and a shutdown in the middle of one.
let api: TestApi;
let n = 0;

// A short payment timeout: tok_timeout answers only after it.
beforeAll(async () => { api = await testApi({ workers: {}, api: { paymentTimeoutMs: 300 } }); });
afterAll(() => api.close());

async function hold(a: TestApi, qty = 1): Promise<{ id: string; sku: string }> {
  const sku = `RC-${++n}`;
  await call(a.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 700, stock: 5 } });
  const r = await call(a.url, 'POST', '/v1/reservations', { body: { user_id: 'u', items: [{ sku, qty }] }, headers: { 'idempotency-key': `rc-${n}` } });
  expect(r.status).toBe(201);
  return { id: r.body.id, sku };
}

/** Past any payment deadline: max(the hold's TTL, the payment window). */
const overdueMs = (a: TestApi) => Math.max(a.runtime.engine.settings.holdTtlMsDefault, a.runtime.engine.settings.paymentWindowMs) + 1_000;

const stock = async (a: TestApi, sku: string) => (await call(a.url, 'GET', `/v1/products/${sku}`)).body.stock;

describe('overdue payments', () => {
  it('a charge captured before a crash is committed by the recovery, and its order written through', async () => {
    const { id, sku } = await hold(api, 2);
    const { engine, provider } = api.runtime;
    const begun = await engine.beginPayment(id);
    if (begun.kind !== 'paying') throw new Error(begun.kind);
    // The process charged the card, then died before committing.
    const reservation = (await engine.getReservation(id))!;
    expect((await provider.charge({ reservationId: id, amountCents: begun.totalCents, token: 'tok_ok', lines: reservation.items }, 1_000)).status).toBe('captured');
    expect(await api.runtime.recovery.recoverOverdue()).toEqual({ committed: 0, released: 0, refunded: 0, failed: 0 }); // not overdue yet
    await advanceClock(engine, overdueMs(api));
    expect(await api.runtime.recovery.recoverOverdue()).toEqual({ committed: 1, released: 0, refunded: 0, failed: 0 });
    expect(await stock(api, sku)).toEqual({ total: 5, available: 3, reserved: 0, sold: 2 });
    const order = await waitFor(async () => {
      const o = await call(api.url, 'GET', `/v1/orders/${(await engine.getReservation(id))!.orderId}`);
      return o.status === 200 ? o.body : undefined;
    }, 10_000, 'recovered order');
    expect(order.payment).toMatchObject({ status: 'captured', amount_cents: 1400 });
  });

  it('a payment begun but never charged is released; a declined one is released as declined', async () => {
    const never = await hold(api);
    const declined = await hold(api);
    const { engine, provider } = api.runtime;
    await engine.beginPayment(never.id);
    await engine.beginPayment(declined.id);
    await provider.charge({ reservationId: declined.id, amountCents: 700, token: 'tok_declined', lines: [] }, 1_000);
    await advanceClock(engine, overdueMs(api));
    expect(await api.runtime.recovery.recoverOverdue()).toEqual({ committed: 0, released: 2, refunded: 0, failed: 0 });
    // The charge never begun is voided at the provider first: a late one cannot capture.
    expect(await provider.lookup(never.id)).toMatchObject({ status: 'voided' });
    expect(await stock(api, never.sku)).toMatchObject({ available: 5, reserved: 0 });
    expect(await stock(api, declined.sku)).toMatchObject({ available: 5, reserved: 0 });
    const retry = await call(api.url, 'POST', `/v1/reservations/${declined.id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
    expect(retry.status).toBe(402);
  });

  it('a confirm whose provider timed out (202) ends confirmed without the client', async () => {
    const { id, sku } = await hold(api);
    const pending = await call(api.url, 'POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_timeout' } } });
    expect(pending.status).toBe(202);
    await advanceClock(api.runtime.engine, overdueMs(api));
    expect((await api.runtime.recovery.recoverOverdue()).committed).toBe(1);
    expect((await call(api.url, 'GET', `/v1/reservations/${id}`)).body.status).toBe('confirmed');
    expect((await stock(api, sku)).sold).toBe(1);
  });
});

describe('shutdown', () => {
  it('waits for a confirm whose client went away, and refuses new requests on kept-alive connections', async () => {
    const slow = await testApi({ api: { paymentLatencyMs: 800, paymentTimeoutMs: 5_000 } });
    let closed = false;
    try {
      const { id } = await hold(slow);
      const body = JSON.stringify({ payment: { token: 'tok_ok' } });
      const socket = connect(slow.server.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write(`POST /v1/reservations/${id}/confirm HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.client}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await new Promise((r) => setTimeout(r, 150));
      socket.destroy(); // the client is gone; the payment is under way
      // A kept-alive connection opened before shutdown.
      const keep = connect(slow.server.port, '127.0.0.1');
      await new Promise((r) => keep.once('connect', r));
      const closing = slow.server.close(5_000);
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        keep.on('data', (d) => { text += d; if (text.includes('\r\n\r\n')) resolve(text); });
        keep.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      keep.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 503/);
      expect(answer.toLowerCase()).toContain('connection: close');
      await closing;
      closed = true;
      // close() returned only after the saga finished.
      expect((await slow.runtime.engine.getReservation(id))?.status).toBe('confirmed');
    } finally {
      if (!closed) await slow.server.close(0);
      await slow.runtime.close();
    }
  });
});

describe('small contract points', () => {
  it('the Bearer scheme is case-insensitive; a forged order cursor is 400', async () => {
    expect((await call(api.url, 'GET', '/v1/products', { token: null, headers: { authorization: `bearer ${tokens.client}` } })).status).toBe(200);
    const forged = Buffer.from('+275760-09-13T00:00:00Z|o1.aaaaaaaaaaaaa').toString('base64url');
    const a = await call(api.url, 'GET', `/v1/users/u/orders?cursor=${forged}`);
    expect(a.status, JSON.stringify(a.body)).toBe(400);
    const big = Buffer.from('999999999999999|o1.aaaaaaaaaaaaa').toString('base64url');
    expect((await call(api.url, 'GET', `/v1/users/u/orders?cursor=${big}`)).status).toBe(400);
  });

  it('a replay gets its stored answer even when the user is over the rate limit', async () => {
    const limited = await testApi({ api: { rateLimitUserPerSec: 2 } });
    try {
      await call(limited.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'RLR', name: 'x', price_cents: 1, stock: 100 } });
      const send = () => call(limited.url, 'POST', '/v1/reservations', { body: { user_id: 'same', items: [{ sku: 'RLR', qty: 1 }] }, headers: { 'idempotency-key': 'rlr' } });
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await send());
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
      expect(answers.slice(1).every((a) => a.headers.get('idempotent-replayed') === 'true')).toBe(true);
    } finally {
      await limited.close();
    }
  });
});
