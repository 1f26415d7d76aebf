import type autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { conserved, equal, onlyStatuses, settled, stockOf, verifyStores, type StockCounts } from '../checks.ts';
import { createProduct, eachLimited, oneLineBody, reserving, type Counter, type Scenario, type SuiteContext } from '../context.ts';
import { runLoad } from '../load.ts';
import type { Check } from '../types.ts';

/** Context autocannon keeps per connection: the reservation its last reserve got, the units its last cart asked for. */
interface Conn {
  id?: string;
  units?: number;
}

const saleUnits = 10_000;
const buyers = 100_000;
/** A sale that has not sold out by then has failed (its check says so). */
const saleSecondsMax = { quick: 60, full: 120 };
/** How long write-through may take to bring every order of the sale into PostgreSQL after it sold out. */
const writeThroughWaitMs = 60_000;

export const flashSale: Scenario = {
  name: 'flash-sale',
  description: `${saleUnits.toLocaleString('en-US')} units, ${buyers.toLocaleString('en-US')} distinct users; each buyer reserves one unit, then confirms it (tok_ok, no payment latency)`,
  expectedSeconds: () => 15,
  run: async (ctx) => {
    const sku = `${ctx.prefix}FLASH`;
    await createProduct(ctx, sku, saleUnits);
    const sale = { confirmed: 0, soldOutSec: 0 };
    const started = performance.now();
    const counter = { n: 0 };
    const out = await runLoad({
      label: 'flash-sale', url: ctx.stack.base, connections: ctx.connections, seconds: ctx.quick ? saleSecondsMax.quick : saleSecondsMax.full,
      requests: () => buyerSequence(ctx, sku, sale, started, counter), stopWhen: () => sale.confirmed >= saleUnits, redis: ctx.stack.redis,
      progress: (_, text) => ctx.report(`${text}; ${sale.confirmed.toLocaleString('en-US')} confirmed`),
    });
    const orders = await writtenThrough(ctx, sku, saleUnits, (n) => ctx.report(`write-through: ${n.toLocaleString('en-US')} orders in PostgreSQL`));
    const lag = await lagPercentiles(ctx, sku);
    const captured = Number((await ctx.stack.sql`select count(*)::int as n from payments p join order_items i on i.order_id = p.order_id
      where i.sku = ${sku} and p.status = 'captured'`)[0]!.n);
    const stock = await stockOf(ctx.stack, sku);
    const checks: Check[] = [onlyStatuses(out.run, ['200', '201', '409']),
      { name: 'sold out within the run', ok: sale.soldOutSec > 0, detail: sale.soldOutSec > 0 ? `in ${sale.soldOutSec.toFixed(2)} s` : `${sale.confirmed} confirmed when the run ended` },
      equal('every unit sold', saleUnits, stock.sold, 'units sold'),
      equal('D: every acknowledged confirm is an order in PostgreSQL', sale.confirmed, orders, 'orders'),
      equal('D: each order has one captured payment', orders, captured, 'captured payments'),
      conserved(sku, stock), await verifyStores(ctx.stack)];
    const figures = {
      'time to sell out (s)': Number(sale.soldOutSec.toFixed(2)),
      'confirmed orders/s': sale.soldOutSec > 0 ? Math.round(saleUnits / sale.soldOutSec) : 0,
      'write-through lag p50 (ms)': lag.p50, 'write-through lag p99 (ms)': lag.p99, 'write-through lag max (ms)': lag.max,
      'orders in PostgreSQL': orders,
    };
    return { name: 'flash-sale', description: flashSale.description, runs: [out.run], figures, checks };
  },
};

/** A buyer: reserve one unit, then confirm that reservation (skipped when the reserve was refused: the connection starts over). */
function buyerSequence(ctx: SuiteContext, sku: string, sale: { confirmed: number; soldOutSec: number }, started: number, counter: Counter): autocannon.Request[] {
  const keyPrefix = `${ctx.prefix}fs-`;
  const reserve = reserving(ctx, { keyPrefix, counter, body: (n) => oneLineBody(`${ctx.prefix}buyer${n % buyers}`, sku) });
  reserve.onResponse = (status, body, context) => {
    (context as Conn).id = status === 201 ? /"id":"([^"]+)"/.exec(body)?.[1] : undefined;
  };
  const authorization = `Bearer ${ctx.stack.clientToken}`;
  const confirm: autocannon.Request = {
    method: 'POST',
    setupRequest: (req, context) => {
      const conn = context as Conn;
      if (!conn.id) return null as unknown as autocannon.Request; // falsy: autocannon goes back to the first request
      req.path = `/v1/reservations/${conn.id}/confirm`;
      req.headers = { authorization, 'content-type': 'application/json' };
      req.body = '{"payment":{"token":"tok_ok"}}';
      conn.id = undefined;
      return req;
    },
    onResponse: (status) => {
      if (status !== 200) return;
      sale.confirmed += 1;
      if (sale.confirmed === saleUnits) sale.soldOutSec = (performance.now() - started) / 1000;
    },
  };
  return [reserve, confirm];
}

/** Orders of the SKU in PostgreSQL once write-through has brought `expected` of them (or the wait ran out). */
async function writtenThrough(ctx: SuiteContext, sku: string, expected: number, report: (n: number) => void): Promise<number> {
  const deadline = Date.now() + writeThroughWaitMs;
  for (;;) {
    const n = Number((await ctx.stack.sql`select count(*)::int as n from order_items where sku = ${sku}`)[0]!.n);
    report(n);
    if (n >= expected || Date.now() > deadline) return n;
    await sleep(100);
  }
}

/** Commit (the order's created_at, Redis's clock) to the row written (written_at), over the SKU's orders. */
async function lagPercentiles(ctx: SuiteContext, sku: string): Promise<{ p50: number; p99: number; max: number }> {
  const rows = await ctx.stack.sql<Array<{ ms: number }>>`select (extract(epoch from (o.written_at - o.created_at)) * 1000)::float8 as ms
    from orders o join order_items i on i.order_id = o.id where i.sku = ${sku} order by 1`;
  const at = (p: number) => Math.round(rows[Math.min(rows.length - 1, Math.floor(p * rows.length))]?.ms ?? 0);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(rows[rows.length - 1]?.ms ?? 0) };
}

const cartSkus = 1_000;
const cartStockPerSku = 1_000_000;
const cartLinesMax = 5;
/** Steps between the SKUs of one cart (distinct for every line index under cartLinesMax: 0, 729, 458, 187, 916). */
const lineStride = 729;
const cartStride = 7_919;

export const cartMix: Scenario = {
  name: 'cart-mix',
  description: `carts of 1–${cartLinesMax} lines (one unit each) over ${cartSkus.toLocaleString('en-US')} SKUs spread across the partitions`,
  expectedSeconds: (o) => o.seconds + o.warmupSeconds + 6,
  run: async (ctx) => {
    const skus = Array.from({ length: cartSkus }, (_, i) => `${ctx.prefix}CART${i}`);
    ctx.report(`create ${cartSkus} SKUs`);
    await eachLimited(skus, 64, (sku) => createProduct(ctx, sku, cartStockPerSku));
    const units = { answered: 0, sent: 0 };
    const counter = { n: 0 }; // shared by the warm-up and the measured run: every key is new
    const out = await runLoad({
      label: 'cart-mix', url: ctx.stack.base, connections: ctx.connections, seconds: ctx.seconds, warmupSeconds: ctx.warmupSeconds,
      requests: () => [cartRequest(ctx, skus, units, counter)], redis: ctx.stack.redis, progress: (_, text) => ctx.report(text),
    });
    const stocks = await settled(async () => {
      const read: StockCounts[] = [];
      await eachLimited(skus, 16, async (sku, i) => { read[i] = await stockOf(ctx.stack, sku); });
      return read;
    });
    const reserved = stocks.reduce((sum, s) => sum + s.reserved, 0);
    const unconserved = skus.map((sku, i) => conserved(sku, stocks[i]!)).filter((c) => !c.ok);
    const checks: Check[] = [onlyStatuses(out.run, ['201']),
      { name: 'units held are those of the carts answered 201 (and at most those sent)', ok: reserved >= units.answered && reserved <= units.sent,
        detail: `${reserved} units held; carts answered 201 asked for ${units.answered}, all carts sent for ${units.sent}` },
      { name: `stock of all ${cartSkus} SKUs conserved`, ok: unconserved.length === 0, detail: unconserved.length ? unconserved[0]!.detail : `${cartSkus} SKUs` },
      await verifyStores(ctx.stack)];
    return { name: 'cart-mix', description: cartMix.description, runs: [out.run], figures: { 'units held': reserved }, checks };
  },
};

function cartRequest(ctx: SuiteContext, skus: string[], units: { answered: number; sent: number }, counter: Counter): autocannon.Request {
  const keyPrefix = `${ctx.prefix}cart-`;
  const request = reserving(ctx, { keyPrefix, counter, body: (n) => cartBody(`${ctx.prefix}shopper${n}`, skus, n) });
  const build = request.setupRequest as (req: autocannon.Request, context: object) => autocannon.Request;
  request.setupRequest = (req, context) => {
    const built = build(req, context);
    const lines = linesOf(built.body as string);
    (context as Conn).units = lines;
    units.sent += lines;
    return built;
  };
  request.onResponse = (status, _body, context) => {
    if (status === 201) units.answered += (context as Conn).units ?? 0;
  };
  return request;
}

const linesOf = (body: string) => body.split('"sku"').length - 1;

function cartBody(userId: string, skus: string[], n: number): string {
  const lines = 1 + (n % cartLinesMax);
  const items: string[] = [];
  for (let j = 0; j < lines; j++) items.push(`{"sku":"${skus[(n * cartStride + j * lineStride) % skus.length]}","qty":1}`);
  return `{"user_id":"${userId}","items":[${items.join(',')}]}`;
}
