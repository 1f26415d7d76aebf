import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, testApi, tokens, type TestApi } from './support/api.ts';

// Hostile input gets a clear 4xx and nothing else; the process never crashes.
let api: TestApi;
let port: number;

beforeAll(async () => {
  api = await testApi();
  port = api.server.port;
  await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku: 'H-1', name: 'h', price_cents: 100, stock: 100 } });
});
afterAll(() => api.close());

/** Raw HTTP over a socket: what fetch will not send. Resolves with what the server wrote before closing or timeoutMs. */
function raw(write: (socket: Socket) => Promise<void> | void, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const done = () => { clearTimeout(timer); socket.destroy(); resolve(received); };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (d) => {
      received += d.toString('latin1');
      if (/\r\n\r\n/.test(received) && responseComplete(received)) done();
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.on('connect', () => void write(socket));
  });
}

function responseComplete(text: string): boolean {
  const [head, ...rest] = text.split('\r\n\r\n');
  const length = /content-length: (\d+)/i.exec(head!)?.[1];
  return length !== undefined && rest.join('\r\n\r\n').length >= Number(length);
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
const head = (path: string, extra: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.client}\r\nIdempotency-Key: k-${Math.random()}\r\nContent-Type: application/json\r\n${extra}\r\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stillHealthy() {
  expect((await call(api.url, 'GET', '/healthz', { token: null })).status).toBe(200);
  expect(api.server).toBeDefined();
}

describe('bodies', () => {
  it('a declared Content-Length over 16 KiB is refused with 413 before any body is read', async () => {
    const response = await raw((s) => { s.write(head('/v1/reservations', 'Content-Length: 20000\r\n')); });
    expect(statusOf(response)).toBe(413);
    expect(response).toContain('/problems/body-too-large');
    await stillHealthy();
  });

  it('a body over 16 KiB is refused with 413 while it streams (counted, not trusted)', async () => {
    // No Content-Length: a chunked body that never ends. The server counts bytes as
    // they arrive and answers once the count passes the limit.
    const response = await raw(async (s) => {
      s.write(head('/v1/reservations', 'Transfer-Encoding: chunked\r\n'));
      for (let i = 0; i < 20; i++) {
        const chunk = 'x'.repeat(1024);
        s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        await sleep(5);
      }
    });
    expect(statusOf(response)).toBe(413);
    await stillHealthy();
  });

  it('exactly 16 KiB is read (and refused as invalid, not as too large)', async () => {
    const padding = 'p'.repeat(16 * 1024 - 60);
    const body = JSON.stringify({ user_id: 'u', items: [{ sku: 'H-1', qty: 1 }], pad: padding });
    const padded = body + ' '.repeat(16 * 1024 - body.length);
    const a = await call(api.url, 'POST', '/v1/reservations', { raw: padded, headers: { 'content-type': 'application/json', 'idempotency-key': 'exact' } });
    expect(a.status).toBe(422);
    const over = await call(api.url, 'POST', '/v1/reservations', { raw: `${padded} `, headers: { 'content-type': 'application/json', 'idempotency-key': 'over' } });
    expect(over.status).toBe(413);
  });

  it('malformed JSON is 400; another content type 415; an empty body 400', async () => {
    for (const text of ['{', '{"user_id": }', 'nul', '\u0000\u0001', '{"a":1}}']) {
      const a = await call(api.url, 'POST', '/v1/reservations', { raw: text, headers: { 'content-type': 'application/json', 'idempotency-key': 'm' } });
      expect(a.status, text).toBe(400);
      expect(a.body.type).toBe('/problems/malformed-json');
    }
    const form = await call(api.url, 'POST', '/v1/reservations', { raw: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'f' } });
    expect(form.status).toBe(415);
    const empty = await call(api.url, 'POST', '/v1/reservations', { raw: '', headers: { 'content-type': 'application/json', 'idempotency-key': 'e' } });
    expect(empty.status).toBe(400);
  });

  it('__proto__ and constructor keys are refused and pollute nothing', async () => {
    for (const text of [
      '{"__proto__": {"polluted": true}, "user_id": "u", "items": [{"sku": "H-1", "qty": 1}]}',
      '{"user_id": "u", "items": [{"sku": "H-1", "qty": 1, "__proto__": {"polluted": true}}]}',
      '{"user_id": "u", "items": [{"sku": "H-1", "qty": 1}], "constructor": {"prototype": {"polluted": true}}}',
    ]) {
      const a = await call(api.url, 'POST', '/v1/reservations', { raw: text, headers: { 'content-type': 'application/json', 'idempotency-key': `p-${text.length}` } });
      expect(a.status).toBe(422);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await call(api.url, 'GET', '/v1/products/H-1')).body.stock.reserved).toBe(0);
  });

  it('huge and odd numbers for qty are 422', async () => {
    for (const qty of ['1e400', '-0', '1.0000001', '9007199254740993', '0x10', 'NaN', 'Infinity', '"1"', 'true', 'null', '[1]']) {
      const text = `{"user_id": "u", "items": [{"sku": "H-1", "qty": ${qty}}]}`;
      const a = await call(api.url, 'POST', '/v1/reservations', { raw: text, headers: { 'content-type': 'application/json', 'idempotency-key': `q-${qty}` } });
      expect([400, 422], `${qty}: ${a.status}`).toContain(a.status);
    }
    expect((await call(api.url, 'GET', '/v1/products/H-1')).body.stock.reserved).toBe(0);
  });
});

describe('connections', () => {
  it('a client that aborts mid-body leaves nothing behind, 50 times over', async () => {
    await Promise.all(Array.from({ length: 50 }, () => raw(async (s) => {
      s.write(head('/v1/reservations', 'Content-Length: 1000\r\n'));
      s.write('{"user_id": "u", "items": [');
      await sleep(10);
      s.destroy();
    }, 500)));
    await sleep(50);
    await stillHealthy();
    expect((await call(api.url, 'GET', '/v1/products/H-1')).body.stock.reserved).toBe(0);
  });

  it('a client that sends its body slowly gets its answer', async () => {
    const body = JSON.stringify({ user_id: 'slow', items: [{ sku: 'H-1', qty: 1 }] });
    const response = await raw(async (s) => {
      s.write(head('/v1/reservations', `Content-Length: ${body.length}\r\n`));
      for (let i = 0; i < body.length; i += 8) {
        s.write(body.slice(i, i + 8));
        await sleep(30);
      }
    }, 8_000);
    expect(statusOf(response)).toBe(201);
  });

  it('a client that disconnects while its reservation is being made does not crash the server', async () => {
    const body = JSON.stringify({ user_id: 'gone', items: [{ sku: 'H-1', qty: 1 }] });
    await Promise.all(Array.from({ length: 30 }, () => raw((s) => {
      s.write(head('/v1/reservations', `Content-Length: ${body.length}\r\n`) + body);
      s.destroy();
    }, 300)));
    await sleep(100);
    await stillHealthy();
  });

  it('garbage, oversized headers and bad request lines do not take the server down', async () => {
    await raw((s) => { s.write('GARBAGE\r\n\r\n'); }, 500);
    await raw((s) => { s.write(`GET /healthz HTTP/1.1\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`); }, 500);
    await raw((s) => { s.write(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`); }, 500);
    await raw((s) => { s.write('POST /v1/reservations HTTP/1.1\r\nContent-Length: -5\r\n\r\n'); }, 500);
    await stillHealthy();
  });
});
