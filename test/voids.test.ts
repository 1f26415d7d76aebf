import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionKeys, partitionOf } from '../engine/index.ts';
import { advanceClock } from './support/engine.ts';
import { call, testApi, waitFor, type Answer, type TestApi } from './support/api.ts';

// A confirm retried shortly before its payment deadline, with a slow provider,
// races the overdue recovery. No capture may ever exist for a hold Stockade
// released: recovery voids the charge at the provider before it releases, a
// charge never begins past the deadline, and a capture that lands anyway (a
// provider that ignored the void) is refunded and the client told so.
let api: TestApi;
let n = 0;
const windowMs = 1_000;
/** Charges wait at the provider for this before they are recorded (open but in overtakenConfirm). */
let chargeGate: Promise<void> = Promise.resolve();
const gated = { beforeRecord: () => chargeGate };

beforeAll(async () => {
  api = await testApi({ engine: { paymentWindowMs: windowMs }, api: { paymentLatencyMs: 300, paymentTimeoutMs: 10_000 }, provider: gated, workers: {} });
});
afterAll(() => api.close());

/** A hold whose first confirm died after beginPayment: `paying`, no charge at the provider. */
async function payingHold(a: TestApi, ttlMs: number): Promise<{ id: string; sku: string }> {
  const i = ++n;
  const sku = `VD-${i}`;
  await call(a.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 900, stock: 1 } });
  const held = await call(a.url, 'POST', '/v1/reservations', { body: { user_id: `u${i}`, items: [{ sku, qty: 1 }], ttl_ms: ttlMs },
    headers: { 'idempotency-key': `vd-${i}` } });
  expect(held.status, JSON.stringify(held.body)).toBe(201);
  expect((await a.runtime.engine.beginPayment(held.body.id)).kind).toBe('paying');
  return { id: held.body.id, sku };
}

const confirm = (a: TestApi, id: string) => call(a.url, 'POST', `/v1/reservations/${id}/confirm`, { body: { payment: { token: 'tok_ok' } } });
const stockOf = async (a: TestApi, sku: string) => (await call(a.url, 'GET', `/v1/products/${sku}`)).body.stock;

/** Past the payment deadline of a hold made with ttlMs: max(its expiry, payment start + window). */
const pastDeadline = (ttlMs: number) => Math.max(ttlMs, windowMs) + 1_000;

/** The two halves of the promise, for one hold: a live capture has its order; a released hold has no live capture. */
async function expectNoMoneyWithoutOrder(a: TestApi, id: string, answer: Answer): Promise<void> {
  const charge = await a.runtime.provider.lookup(id);
  const status = (await a.runtime.engine.getReservation(id))?.status;
  const liveCapture = charge?.status === 'captured' && !charge.refunded;
  expect([200, 402], JSON.stringify(answer.body)).toContain(answer.status);
  if (liveCapture) expect(status).toBe('confirmed');
  if (status === 'released') expect(liveCapture).toBe(false);
  if (answer.status === 200) expect(status).toBe('confirmed');
}

/**
 * The scenario: a confirm retried while its charge is at the (slow)
 * provider, the payment deadline passing meanwhile, and the overdue recovery
 * running before the charge lands. Answers what the confirm got.
 */
async function overtakenConfirm(a: TestApi): Promise<{ id: string; sku: string; got: Answer }> {
  const ttlMs = 600_000;
  const { id, sku } = await payingHold(a, ttlMs);
  // The charge is held at the provider until the recovery has run, however slow the machine.
  let land!: () => void;
  chargeGate = new Promise((resolve) => { land = resolve; });
  try {
    const answer = confirm(a, id);
    await waitFor(async () => a.runtime.provider.chargesInFlight > 0, 10_000, 'the charge at the provider');
    await advanceClock(a.runtime.engine, pastDeadline(ttlMs));
    expect(await a.runtime.recovery.recoverOverdue()).toMatchObject({ released: 1 });
    land();
    return { id, sku, got: await answer };
  } finally {
    land();
    chargeGate = Promise.resolve();
  }
}

describe('a confirm overtaken by the overdue recovery', () => {
  it('the recovery voids the charge first: nothing is captured, the client gets 402 payment-voided', async () => {
    const { id, sku, got } = await overtakenConfirm(api);
    expect(got.status, JSON.stringify(got.body)).toBe(402);
    expect(got.body.type).toBe('/problems/payment-voided');
    expect(await api.runtime.provider.lookup(id)).toMatchObject({ status: 'voided' });
    expect((await api.runtime.engine.getReservation(id))?.status).toBe('released');
    expect(await stockOf(api, sku)).toEqual({ total: 1, available: 1, reserved: 0, sold: 0 });
    // A repeat says the same.
    const again = await confirm(api, id);
    expect([again.status, again.body.type]).toEqual([402, '/problems/payment-voided']);
  });

  it('past the payment deadline a confirm begins no charge; it finishes the saga and answers its outcome', async () => {
    const ttlMs = 600_000;
    const { id } = await payingHold(api, ttlMs);
    await advanceClock(api.runtime.engine, pastDeadline(ttlMs));
    const got = await confirm(api, id);
    expect([got.status, got.body.type]).toEqual([402, '/problems/payment-voided']);
    expect(await api.runtime.provider.lookup(id)).toMatchObject({ status: 'voided' });
  });

  it('retries racing the recovery, 60 holds: every live capture has an order, no released hold has one', async () => {
    const ttlMs = 1_000;
    for (let round = 0; round < 3; round++) {
      const holds = await Promise.all(Array.from({ length: 20 }, () => payingHold(api, ttlMs)));
      // The payment deadlines are now about 1 s away: move them to about 200 ms.
      await advanceClock(api.runtime.engine, ttlMs - 200);
      let racing = true;
      const recovery = (async () => {
        while (racing) {
          await api.runtime.recovery.recoverOverdue();
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const answers = await Promise.all(holds.map(async ({ id }, i) => {
        await new Promise((r) => setTimeout(r, i * 15));
        return confirm(api, id);
      }));
      racing = false;
      await recovery;
      await advanceClock(api.runtime.engine, pastDeadline(ttlMs));
      await api.runtime.recovery.recoverOverdue();
      for (const [i, { id }] of holds.entries()) await expectNoMoneyWithoutOrder(api, id, answers[i]!);
      const stocks = await Promise.all(holds.map(({ sku }) => stockOf(api, sku)));
      const confirmed = answers.filter((a) => a.status === 200).length;
      expect(stocks.reduce((sum, s) => sum + s.sold, 0)).toBe(confirmed);
      expect(stocks.every((s) => s.reserved === 0)).toBe(true);
    }
  });
});

describe('a provider that ignores the void', () => {
  it('a capture landing on a released hold is refunded, recorded, counted, and the client gets 402 payment-refunded', async () => {
    const careless = await testApi({ engine: { paymentWindowMs: windowMs }, api: { paymentLatencyMs: 300, paymentTimeoutMs: 10_000 },
      provider: { ignoreVoids: true, ...gated }, workers: {} });
    try {
      const { id, sku, got } = await overtakenConfirm(careless);
      expect([got.status, got.body.type], JSON.stringify(got.body)).toEqual([402, '/problems/payment-refunded']);
      expect(await careless.runtime.provider.lookup(id)).toMatchObject({ status: 'captured', refunded: true });
      expect(await stockOf(careless, sku)).toEqual({ total: 1, available: 1, reserved: 0, sold: 0 });
      const again = await confirm(careless, id);
      expect([again.status, again.body.type]).toEqual([402, '/problems/payment-refunded']);
      const metrics = await call(careless.url, 'GET', '/metrics', { token: 'admin' });
      expect(metrics.body).toMatch(/^stockade_payments_refunded_total 1$/m);
      const row = await waitFor(async () => {
        const [r] = await careless.runtime.sql`select reservation_id, amount_cents from refunds where reservation_id = ${id}`;
        return r;
      }, 10_000, 'the refund written through');
      expect(row).toEqual({ reservation_id: id, amount_cents: 900 });
    } finally {
      await careless.close();
    }
  });

  it('a refund that fails at first: the retried confirm refunds and says 402 payment-refunded, never "nothing taken"', async () => {
    const careless = await testApi({ engine: { paymentWindowMs: windowMs }, api: { paymentLatencyMs: 300, paymentTimeoutMs: 10_000 },
      provider: { ignoreVoids: true, ...gated } });
    try {
      // Fault injection: the provider's refund endpoint is down for one call.
      const provider = careless.runtime.provider;
      const refund = provider.refund.bind(provider);
      let failures = 1;
      provider.refund = async (id) => {
        if (failures-- > 0) throw new Error('provider unavailable');
        return refund(id);
      };
      const { id, got } = await overtakenConfirm(careless);
      expect([got.status, got.body.type], JSON.stringify(got.body)).toEqual([503, '/problems/unavailable']);
      expect(await provider.lookup(id)).toMatchObject({ status: 'captured', refunded: false });
      const again = await confirm(careless, id);
      expect([again.status, again.body.type], JSON.stringify(again.body)).toEqual([402, '/problems/payment-refunded']);
      expect(await provider.lookup(id)).toMatchObject({ status: 'captured', refunded: true });
    } finally {
      await careless.close();
    }
  });

  it('a late capture with no confirm left to see it (its process died) is refunded by the recovery\'s second look', async () => {
    const careless = await testApi({ engine: { paymentWindowMs: windowMs, voidRecheckMs: 60_000 }, provider: { ignoreVoids: true }, workers: {} });
    try {
      const ttlMs = 600_000;
      const { id, sku } = await payingHold(careless, ttlMs);
      await advanceClock(careless.runtime.engine, pastDeadline(ttlMs));
      expect(await careless.runtime.recovery.recoverOverdue()).toMatchObject({ released: 1, failed: 0 });
      // The dead process's charge request reaches the provider now, and captures.
      const reservation = (await careless.runtime.engine.getReservation(id))!;
      expect((await careless.runtime.provider.charge({ reservationId: id, amountCents: 900, token: 'tok_ok', lines: reservation.items }, 1_000))
        .status).toBe('captured');
      expect(await careless.runtime.recovery.recoverOverdue()).toMatchObject({ refunded: 0 }); // not yet looked at again
      await advanceClock(careless.runtime.engine, 60_000);
      expect(await careless.runtime.recovery.recoverOverdue()).toMatchObject({ refunded: 1, failed: 0 });
      expect(await careless.runtime.provider.lookup(id)).toMatchObject({ status: 'captured', refunded: true });
      expect(await stockOf(careless, sku)).toEqual({ total: 1, available: 1, reserved: 0, sold: 0 });
      await waitFor(async () => (await careless.runtime.sql`select 1 from refunds where reservation_id = ${id}`).length === 1, 10_000, 'refund row');
      // Looked at once: the next passes leave it alone.
      expect(await careless.runtime.recovery.recoverOverdue()).toMatchObject({ refunded: 0 });
    } finally {
      await careless.close();
    }
  });

  it('a cart whose part the recovery could not release at first ends with every part released and one refund', async () => {
    let partSkus = '';
    let failures = 0;
    const careless = await testApi({ engine: { paymentWindowMs: windowMs }, api: { paymentLatencyMs: 300, paymentTimeoutMs: 10_000 },
      provider: { ignoreVoids: true, ...gated }, faults: { beforeScript: (name, args) => {
        if (name === 'releaseHold' && args[0] === partSkus && failures > 0) {
          failures -= 1;
          throw Object.assign(new Error('Connection is closed (fault)'), { code: 'ECONNRESET' });
        }
      } } });
    try {
      const engine = careless.runtime.engine;
      const skus: string[] = [];
      for (let i = 0; skus.length < 2; i++) {
        const sku = `VDC-${n}-${i}`;
        if (skus.length === 1 && partitionOf(sku, engine.settings.partitions) === partitionOf(skus[0]!, engine.settings.partitions)) continue;
        skus.push(sku);
      }
      for (const sku of skus) await call(careless.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock: 1 } });
      const held = await call(careless.url, 'POST', '/v1/reservations', { body: { user_id: 'u', items: skus.map((sku) => ({ sku, qty: 1 })) },
        headers: { 'idempotency-key': `vdc-${n}` } });
      const id = held.body.id as string;
      const home = Number(id.split('.')[0]);
      const part = skus.map((s) => partitionOf(s, engine.settings.partitions)).find((p) => p !== home)!;
      partSkus = partitionKeys(engine.settings.keyPrefix, part).skus;
      expect((await engine.beginPayment(id)).kind).toBe('paying');
      let land!: () => void;
      chargeGate = new Promise((resolve) => { land = resolve; }); // the charge lands after the recovery's first pass
      const answer = confirm(careless, id);
      try {
        await waitFor(async () => careless.runtime.provider.chargesInFlight > 0, 10_000, 'the charge at the provider');
        await advanceClock(engine, pastDeadline(600_000));
        failures = 1;
        expect(await careless.runtime.recovery.recoverOverdue()).toMatchObject({ failed: 1 }); // the part's release failed
      } finally {
        land();
        chargeGate = Promise.resolve();
      }
      expect((await answer).status).toBe(402);
      for (let pass = 0; pass < 2; pass++) await careless.runtime.recovery.recoverOverdue();
      for (const sku of skus) expect(await stockOf(careless, sku)).toEqual({ total: 1, available: 1, reserved: 0, sold: 0 });
      expect(await careless.runtime.provider.lookup(id)).toMatchObject({ status: 'captured', refunded: true });
      expect(careless.runtime.checkout.stats.refunded).toBe(1);
      expect(await careless.runtime.recovery.recoverOverdue()).toMatchObject({ committed: 0, released: 0, refunded: 0, failed: 0 });
    } finally {
      await careless.close();
    }
  });
});
