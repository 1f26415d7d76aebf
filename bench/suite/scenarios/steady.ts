import { stockUnitsMax } from '../../../engine/index.ts';
import { conserved, equal, onlyStatuses, settled, stockOf, verifyStores } from '../checks.ts';
import { createProduct, oneLineBody, reserving, type Counter, type Scenario, type SuiteContext } from '../context.ts';
import { runLoad, type LoadOutcome } from '../load.ts';
import { call } from '../stack.ts';
import type { Check, LoadRun } from '../types.ts';

/**
 * The steady scenarios: `connections` connections for `seconds` (after a
 * warm-up), every request a reservation of one unit with its own
 * Idempotency-Key and user; request n reserves skus[n % skus.length].
 */
export function steadyLoad(ctx: SuiteContext, label: string, path: string, skus: readonly string[], counter: Counter, withRedis = true)
  : Promise<LoadOutcome> {
  const keyPrefix = `${ctx.prefix}${label.replace(/[^a-z0-9-]+/gi, '')}-`;
  return runLoad({
    label, url: ctx.stack.base, connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds,
    requests: () => [reserving(ctx, { path, keyPrefix, counter, body: (n) => oneLineBody(`${keyPrefix}u${n}`, skus[n % skus.length]!) })],
    redis: withRedis ? ctx.stack.redis : undefined,
    progress: (_, text) => ctx.report(text),
  });
}

const steadyExpectedSeconds = (o: { seconds: number; warmupSeconds: number }) => o.seconds + o.warmupSeconds + 3;

/** Units granted by 2xx answers lie between those answered and those sent (a request in flight when the run stopped may have been granted). */
function grantedWithin(name: string, granted: number, answered: number, sent: number): Check {
  const ok = granted >= answered && granted <= sent;
  return { name, ok, detail: `${granted} units held for ${answered} answered 201 of ${sent} sent${ok ? '' : ' (outside those bounds)'}` };
}

const count = (o: LoadOutcome, code: string) => (o.run.statuses[code] ?? 0) + (o.warmupStatuses[code] ?? 0);

export const ceiling: Scenario = {
  name: 'ceiling',
  description: 'the same server, router and body parsing (token, Idempotency-Key, JSON, schema) answering a canned 201; no Redis',
  expectedSeconds: steadyExpectedSeconds,
  run: async (ctx) => {
    const out = await steadyLoad(ctx, 'ceiling', '/bench/ceiling', [`${ctx.prefix}CEIL`], { n: 0 }, false);
    return { name: 'ceiling', description: ceiling.description, runs: [out.run], figures: {}, checks: [onlyStatuses(out.run, ['201']), await verifyStores(ctx.stack)] };
  },
};

export const reserveHot: Scenario = {
  name: 'reserve-hot',
  description: 'one SKU whose stock does not run out; each request its own Idempotency-Key and user',
  expectedSeconds: steadyExpectedSeconds,
  run: async (ctx) => {
    const sku = `${ctx.prefix}HOT`;
    await createProduct(ctx, sku, stockUnitsMax);
    const counter = { n: 0 };
    const out = await steadyLoad(ctx, 'reserve-hot', '/v1/reservations', [sku], counter);
    const stock = await settled(() => stockOf(ctx.stack, sku));
    const checks = [onlyStatuses(out.run, ['201']), grantedWithin('each 201 holds one unit', stock.reserved, count(out, '201'), counter.n),
      conserved(sku, stock), ...(await replayChecks(ctx, sku)), await verifyStores(ctx.stack)];
    return { name: 'reserve-hot', description: reserveHot.description, runs: [out.run], figures: {}, checks };
  },
};

/** I, idempotency: a request of the run sent again gets the same reservation (replayed) and holds nothing more; another body with its key is refused. */
async function replayChecks(ctx: SuiteContext, sku: string): Promise<Check[]> {
  const keyPrefix = `${ctx.prefix}reserve-hot-`;
  const headers = { 'idempotency-key': `${keyPrefix}0` };
  const body = JSON.parse(oneLineBody(`${keyPrefix}u0`, sku));
  const before = await stockOf(ctx.stack, sku);
  const first = await call(ctx.stack, 'POST', '/v1/reservations', body, { headers });
  const again = await call(ctx.stack, 'POST', '/v1/reservations', body, { headers });
  const other = await call(ctx.stack, 'POST', '/v1/reservations', { ...body, items: [{ sku, qty: 2 }] }, { headers });
  const after = await stockOf(ctx.stack, sku);
  const replayed = first.status === 201 && again.status === 201 && first.body.id === again.body.id
    && first.headers.get('idempotent-replayed') === 'true' && again.headers.get('idempotent-replayed') === 'true';
  return [
    { name: 'a retried request is replayed, not held again', ok: replayed && after.reserved === before.reserved,
      detail: `retries answered ${first.status}, ${again.status} (replayed: ${first.headers.get('idempotent-replayed')}), reserved ${before.reserved} → ${after.reserved}` },
    { name: 'its key with another body is refused', ok: other.status === 422, detail: `answered ${other.status} ${other.body?.type ?? ''}` },
  ];
}

/** Units of the sold-out SKU, sold before the stampede. */
const soldOutUnits = 100;

export const soldOutStampede: Scenario = {
  name: 'sold-out-stampede',
  description: `a SKU sold out (${soldOutUnits} units reserved and confirmed first): every request must be refused with 409 out-of-stock`,
  expectedSeconds: (o) => steadyExpectedSeconds(o) + 2,
  run: async (ctx) => {
    const sku = `${ctx.prefix}GONE`;
    await createProduct(ctx, sku, soldOutUnits);
    await sellOut(ctx, sku, soldOutUnits);
    const before = await stockOf(ctx.stack, sku);
    const out = await steadyLoad(ctx, 'sold-out-stampede', '/v1/reservations', [sku], { n: 0 });
    const after = await settled(() => stockOf(ctx.stack, sku));
    const sample = await call(ctx.stack, 'POST', '/v1/reservations', JSON.parse(oneLineBody(`${ctx.prefix}late`, sku)), { headers: { 'idempotency-key': `${ctx.prefix}late` } });
    const checks = [onlyStatuses(out.run, ['409']),
      { name: 'the refusal says out-of-stock and what is available', ok: sample.status === 409 && /out-of-stock/.test(sample.body?.type) && sample.body?.available === 0,
        detail: `${sample.status} ${sample.body?.type} available=${sample.body?.available}` },
      equal('nothing held or sold during the stampede', before.sold + before.reserved, after.sold + after.reserved, 'units reserved or sold'),
      equal('sold out: every unit sold', soldOutUnits, after.sold, 'units sold'),
      conserved(sku, after), await verifyStores(ctx.stack)];
    return { name: 'sold-out-stampede', description: soldOutStampede.description, runs: [out.run], figures: {}, checks };
  },
};

/** Reserves and confirms (tok_ok) units one by one until none is left. */
async function sellOut(ctx: SuiteContext, sku: string, units: number): Promise<void> {
  for (let i = 0; i < units; i++) {
    const held = await call(ctx.stack, 'POST', '/v1/reservations', JSON.parse(oneLineBody(`${ctx.prefix}early${i}`, sku)),
      { headers: { 'idempotency-key': `${ctx.prefix}early${i}` } });
    if (held.status !== 201) throw new Error(`sell out ${sku}: reserve ${held.status}`);
    const paid = await call(ctx.stack, 'POST', `/v1/reservations/${held.body.id}/confirm`, { payment: { token: 'tok_ok' } });
    if (paid.status !== 200) throw new Error(`sell out ${sku}: confirm ${paid.status}`);
  }
}

export const rowLockBaseline: Scenario = {
  name: 'row-lock-baseline',
  description: 'the classic peer, done well: the same server reserving with one prepared UPDATE … RETURNING + INSERT statement per request in PostgreSQL, '
    + 'one hot SKU; committed as classic implementations do (WAL flushed), then asynchronously (the durability of Stockade\'s holds)',
  expectedSeconds: (o) => 2 * steadyExpectedSeconds(o),
  run: async (ctx) => {
    const durable = await rowLockRun(ctx, 'row-lock-baseline', '');
    const asynchronous = await rowLockRun(ctx, 'row-lock-baseline (async commit)', '?commit=async');
    return { name: 'row-lock-baseline', description: rowLockBaseline.description, runs: [durable.run, asynchronous.run], figures: {},
      checks: [...durable.checks, ...asynchronous.checks, await verifyStores(ctx.stack)] };
  },
};

/** One run of the peer on a SKU of its own; the checks of its table afterwards. */
async function rowLockRun(ctx: SuiteContext, label: string, query: string): Promise<{ run: LoadRun; checks: Check[] }> {
  const sku = `${ctx.prefix}ROW${query ? 'A' : 'D'}`;
  const made = await call(ctx.stack, 'POST', '/bench/row-lock/products', { sku, stock: stockUnitsMax }, { admin: true });
  if (made.status !== 200) throw new Error(`row-lock product: ${made.status} ${JSON.stringify(made.body)}`);
  const counter = { n: 0 };
  const out = await steadyLoad(ctx, label, `/bench/row-lock/reservations${query}`, [sku], counter, false);
  // One statement, one snapshot: the counts and the hold rows as of the same moment, once the statements in flight have finished.
  const row = await settled(async () => (await ctx.stack.sql<Array<{ available: number; reserved: number; held: number }>>`
    select available, reserved, (select count(*)::int from bench_rowlock_holds h where h.sku = s.sku) as held
    from bench_rowlock_stock s where sku = ${sku}`)[0]!);
  const held = row.held;
  return { run: out.run, checks: [onlyStatuses(out.run, ['201']),
    grantedWithin(`${label}: each 201 holds one unit`, row.reserved, count(out, '201'), counter.n),
    equal(`${label}: the peer conserves its stock`, stockUnitsMax, row.available + row.reserved, 'units'),
    equal(`${label}: one hold row per unit held`, row.reserved, held, 'rows')] };
}
