import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionKeys, partitionOf } from '../engine/index.ts';
import { call, testApi, type TestApi } from './support/api.ts';

// Concurrent confirms of one multi-partition cart all answer the cart's real
// outcome: the home part decides, a part confirmed by another confirm is no
// sign of expiry.
let api: TestApi;
let n = 0;
/** When set, the first beginPayment reply of this home partition key waits for the gate (a slow reply). */
let hold: { skusKey: string; gate: Promise<void>; reached: () => void } | null = null;

beforeAll(async () => {
  api = await testApi({ api: { paymentTimeoutMs: 10_000 }, faults: { afterScript: async (name, args) => {
    if (name !== 'beginPayment' || !hold || args[0] !== hold.skusKey) return;
    const { gate, reached } = hold;
    hold = null;
    reached();
    await gate;
  } } });
});
afterAll(() => api.close());

/** A held cart over three partitions. */
async function cart(): Promise<{ id: string; skus: string[] }> {
  const skus: string[] = [];
  const used = new Set<number>();
  for (let i = 0; skus.length < 3; i++) {
    const sku = `CC${++n}x${i}`;
    const p = partitionOf(sku, api.runtime.engine.settings.partitions);
    if (used.has(p)) continue;
    used.add(p);
    skus.push(sku);
    await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock: 5 } });
  }
  const held = await call(api.url, 'POST', '/v1/reservations', { body: { user_id: 'u', items: skus.map((sku) => ({ sku, qty: 1 })) },
    headers: { 'idempotency-key': `cc-${n}` } });
  expect(held.status).toBe(201);
  return { id: held.body.id, skus };
}

const confirm = (id: string, token: string, key?: string) => call(api.url, 'POST', `/v1/reservations/${id}/confirm`,
  { body: { payment: { token } }, headers: key ? { 'idempotency-key': key } : {} });

describe('concurrent confirms of a multi-partition cart', () => {
  /** Holds back the reply of the next beginPayment on the cart's home part; resolves once it is held. */
  function slowHomeBegin(id: string): { paused: Promise<void>; open: () => void } {
    const home = partitionKeys(api.runtime.engine.settings.keyPrefix, Number(id.split('.')[0])).skus;
    let open!: () => void;
    let reached!: () => void;
    const paused = new Promise<void>((r) => { reached = r; });
    hold = { skusKey: home, gate: new Promise<void>((r) => { open = r; }), reached };
    return { paused, open };
  }

  it('one confirm finds the cart\'s home paying, then its other parts confirmed by another: it answers 200, not 410', async () => {
    const { id, skus } = await cart();
    const { paused, open } = slowHomeBegin(id);
    const slow = confirm(id, 'tok_ok');
    await paused; // the slow confirm's home part is paying; its reply is held back
    const fast = await confirm(id, 'tok_ok');
    expect([fast.status, fast.body.order_id]).toEqual([200, expect.stringMatching(/^o[a-z2-7]{24}$/)]);
    open();
    const late = await slow;
    expect([late.status, late.body.order_id], JSON.stringify(late.body)).toEqual([200, fast.body.order_id]);
    for (const sku of skus) {
      expect((await call(api.url, 'GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 5, available: 4, reserved: 0, sold: 1 });
    }
  });

  it('one confirm finds the home paying, then the cart released by another\'s declined charge: it answers 402, not 410', async () => {
    const { id, skus } = await cart();
    const { paused, open } = slowHomeBegin(id);
    const slow = confirm(id, 'tok_ok');
    await paused;
    expect((await confirm(id, 'tok_declined')).status).toBe(402);
    open();
    const late = await slow;
    expect([late.status, late.body.type], JSON.stringify(late.body)).toEqual([402, '/problems/payment-declined']);
    for (const sku of skus) {
      expect((await call(api.url, 'GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 5, available: 5, reserved: 0, sold: 0 });
    }
  });

  for (const withKey of [false, true]) {
    it(`all answer 200 with the one order (${withKey ? 'the same Idempotency-Key' : 'no key'}), 15 rounds`, async () => {
      for (let round = 0; round < 15; round++) {
        const { id, skus } = await cart();
        const answers = await Promise.all(Array.from({ length: 8 }, () => confirm(id, 'tok_ok', withKey ? `ck-${id}` : undefined)));
        // One order id for the cart, whichever confirm committed it (each proposes its own).
        for (const a of answers) expect([a.status, a.body.order_id], JSON.stringify(a.body)).toEqual([200, answers[0]!.body.order_id]);
        expect(answers[0]!.body.order_id).toMatch(/^o[a-z2-7]{24}$/);
        for (const sku of skus) {
          expect((await call(api.url, 'GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 5, available: 4, reserved: 0, sold: 1 });
        }
        // A confirm after the fact says the same.
        expect((await confirm(id, 'tok_ok')).status).toBe(200);
      }
    });
  }

  it('a declined first charge: every confirm answers 402, none 410, and the cart is released whole', async () => {
    for (let round = 0; round < 10; round++) {
      const { id, skus } = await cart();
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => confirm(id, i === 0 ? 'tok_declined' : 'tok_ok')));
      const statuses = new Set(answers.map((a) => a.status));
      // The provider's first record decides: declined (402 for all) or captured (200 for all).
      expect(statuses.size, JSON.stringify(answers.map((a) => a.body))).toBe(1);
      expect([200, 402]).toContain(answers[0]!.status);
      const sold = answers[0]!.status === 200 ? 1 : 0;
      for (const sku of skus) {
        expect((await call(api.url, 'GET', `/v1/products/${sku}`)).body.stock).toEqual({ total: 5, available: 5 - sold, reserved: 0, sold });
      }
    }
  });
});
