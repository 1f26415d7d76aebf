import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../engine/index.ts';
import { repair } from '../reconciler/repair.ts';
import { verify } from '../reconciler/verify.ts';
import { masterOfSku } from './support/cluster.ts';
import { clusterApiForFile } from './support/cluster-api.ts';
import { call, waitFor, type Answer } from './support/api.ts';

// Failover (issue #16 items 3 and 5): kill -9 of a master of a local 3-master cluster in the middle of a flash sale.
// Its replica takes over; meanwhile the engine sends that master's failed batches again (for up to
// failoverRetryWindowMs), and what outlasts that is answered 503 with Retry-After (never 500); the others sell on.
// Buyers send a 503 or an unanswered request again with its Idempotency-Key (a confirm: to its reservation), some
// twice at once. Afterwards no SKU is oversold, no reservation id was granted twice, no key got two reservations, no
// reservation two orders, and every acknowledged confirm is an order in PostgreSQL (after `reconcile repair`, which
// recreates what the promoted replica lost from the provider's records).
const fixture = clusterApiForFile();

const stockPerSku = 150;
const buyers = 12;
/** Bounds of the sale after the kill: it ends when the victim's SKU sells again and every SKU is sold out, or at this. */
const saleAfterKillMaxMs = 60_000;

/** One buyer's reservation: every answer its reserve and its confirm got (a 503 or no answer is sent again with the same key). */
interface Entry { sku: string; key: string; at: number; doneAt: number; reserve: Answer; reserves: Answer[]; confirm?: Answer; confirms: Answer[] }

/** How many times a buyer sends a request again after a 503 or no answer (with its Idempotency-Key; a confirm names its reservation). */
const resendsMax = 40;
/**
 * How long a buyer waits for an answer before it sends again: shorter than the failover, so that resends race the
 * first request while the engine is still sending its batch again.
 */
const buyerPatienceMs = 2_000;
const unanswered = (a: Answer) => a.status === 0 || a.status === 503;

describe('kill -9 of a master mid-sale', () => {
  it('its replica takes over: 503 with Retry-After meanwhile, never 500; nothing oversold, no id granted twice, every acknowledged confirm an order', async () => {
    const api = fixture.api();
    const cluster = fixture.cluster();
    const { partitions, keyPrefix } = api.runtime.engine.settings;
    // One SKU per master.
    const skus: string[] = [];
    const masters = new Set<number>();
    for (let i = 0; skus.length < 3; i++) {
      const sku = `FO-${i}`;
      const master = await masterOfSku(cluster, keyPrefix, partitions, sku);
      if (masters.has(master)) continue;
      masters.add(master);
      skus.push(sku);
      const created = await call(api.url, 'POST', '/v1/products', { token: 'admin', body: { sku, name: sku, price_cents: 100, stock: stockPerSku } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    const victimSku = skus[0]!;
    const victimPort = await masterOfSku(cluster, keyPrefix, partitions, victimSku);

    const ledger: Entry[] = [];
    let killedAt = 0;
    let refusedAt = 0;
    let servedAgainAt = 0;
    let stop = false;
    let n = 0;
    const noAnswer = (error: unknown): Answer => ({ status: 0, headers: new Headers(), body: String(error) });
    /** Sends until answered (not 503, not unanswered) or resendsMax; every answer kept. Every fifth first send goes twice at once. */
    const untilAnswered = async (send: () => Promise<Answer>, answers: Answer[], twice: boolean): Promise<Answer> => {
      for (let i = 0; ; i++) {
        const got = twice && i === 0 ? await Promise.all([send(), send()]) : [await send()];
        answers.push(...got);
        const settled = got.find((a) => !unanswered(a));
        if (settled || i >= resendsMax || stop) return settled ?? got[0]!;
        await sleep(Number(got[0]!.headers.get('retry-after') ?? 0) > 0 ? 200 : 50);
      }
    };
    const buy = async (b: number) => {
      const sku = skus[(b + n++) % skus.length]!;
      const at = Date.now();
      const key = `fo-${b}-${n}`;
      const entry: Entry = { sku, key, at, doneAt: 0, reserve: noAnswer('unsent'), reserves: [], confirms: [] };
      ledger.push(entry);
      const reserveOnce = async () => {
        const answer = await call(api.url, 'POST', '/v1/reservations',
          { body: { user_id: `b${b}`, items: [{ sku, qty: 1 }] }, headers: { 'idempotency-key': key }, timeoutMs: buyerPatienceMs }).catch(noAnswer);
        if (sku === victimSku && killedAt > 0 && at >= killedAt) {
          // Served again: a hold of the victim's partition granted on a request first sent after the kill (by the promoted replica).
          if (answer.status === 201) servedAgainAt ||= Date.now();
          else refusedAt ||= Date.now();
        }
        return answer;
      };
      entry.reserve = await untilAnswered(reserveOnce, entry.reserves, n % 5 === 0);
      entry.doneAt = Date.now();
      if (entry.reserve.status !== 201) return;
      const confirmOnce = () => call(api.url, 'POST', `/v1/reservations/${entry.reserve.body.id}/confirm`,
        { body: { payment: { token: 'tok_ok' } }, timeoutMs: buyerPatienceMs }).catch(noAnswer);
      entry.confirm = await untilAnswered(confirmOnce, entry.confirms, n % 7 === 0);
    };
    const running = Array.from({ length: buyers }, async (_, b) => { while (!stop) await buy(b); });
    let promoted = 0;
    try {
      // The kill lands mid-sale: once a fifth of the victim's units are sold.
      await waitFor(async () => ledger.filter((e) => e.sku === victimSku && e.confirm?.status === 200).length >= stockPerSku / 5, 60_000, 'sale under way');
      await cluster.kill(victimPort);
      killedAt = Date.now();
      promoted = await cluster.waitFailover(victimPort, 60_000);
      const soldOut = async () => {
        const stocks = await Promise.all(skus.map(async (sku) => (await call(api.url, 'GET', `/v1/products/${sku}`, { token: 'admin' })).body?.stock));
        return stocks.every((s) => s && s.available === 0);
      };
      await waitFor(async () => servedAgainAt > 0 && (await soldOut()), saleAfterKillMaxMs, 'the victim\'s SKU served again, every SKU sold out');
    } finally {
      stop = true;
      await Promise.all(running);
    }
    const victimAfterKill = ledger.filter((e) => e.sku === victimSku && e.at >= killedAt);
    const statuses = new Map<number, number>();
    for (const e of victimAfterKill.filter((x) => x.doneAt <= servedAgainAt)) {
      for (const a of e.reserves) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    }
    console.log(`failover: master :${victimPort} killed; replica :${promoted} promoted; ${victimSku} (partition ${partitionOf(victimSku, partitions)}) `
      + `first refusal ${refusedAt ? `${refusedAt - killedAt} ms` : 'none'} after the kill, granted again ${servedAgainAt - killedAt} ms after it; `
      + `its reserves meanwhile by status (each send): ${JSON.stringify(Object.fromEntries(statuses))}; `
      + `sends: ${ledger.reduce((sum, e) => sum + e.reserves.length + e.confirms.length, 0)} for ${ledger.length} reservations, `
      + `${ledger.reduce((sum, e) => sum + [...e.reserves, ...e.confirms].filter(unanswered).length, 0)} of them answered 503 or not at all`);

    // Never a 500; every 503 says when to come back.
    const answers = ledger.flatMap((e) => [...e.reserves, ...e.confirms]);
    expect(answers.filter((a) => a.status >= 500 && a.status !== 503).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    for (const a of answers.filter((x) => x.status === 503)) expect(Number(a.headers.get('retry-after')), JSON.stringify(a.body)).toBeGreaterThanOrEqual(1);
    // No reservation id granted twice; a key sent again (or twice at once) is answered with its one reservation.
    const ids = ledger.filter((e) => e.reserve.status === 201).map((e) => e.reserve.body.id as string);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of ledger) {
      const granted = new Set(e.reserves.filter((a) => a.status === 201 || a.status === 200).map((a) => a.body.id as string));
      expect(granted.size, `${e.key}: ${[...granted].join(', ')}`).toBeLessThanOrEqual(1);
      // A confirm sent again names the same order: it was charged and committed once.
      const orders = new Set(e.confirms.filter((a) => a.status === 200).map((a) => a.body.order_id as string));
      expect(orders.size, `${e.key}: ${[...orders].join(', ')}`).toBeLessThanOrEqual(1);
    }

    // Repair (what the promoted replica lost, recreated from the provider's records), write-through drained, verify.
    await repair(api.runtime);
    await waitFor(async () => (await api.runtime.engine.outbox.backlog()) === 0, 30_000, 'outbox drained');
    const after = await verify(api.runtime);
    expect(after.violations).toEqual([]);
    // Every acknowledged confirm is its order in PostgreSQL; no SKU sold beyond its stock (PostgreSQL and Redis).
    const acknowledged = ledger.filter((e) => e.confirm?.status === 200).map((e) => e.confirm!.body.order_id as string);
    const { sql } = api.runtime;
    const written = new Set((await sql`select id from orders where id = any(${acknowledged})`).map((r) => String(r.id)));
    expect(acknowledged.filter((id) => !written.has(id))).toEqual([]);
    for (const sku of skus) {
      const [row] = await sql`select coalesce(sum(qty), 0)::int as sold from order_items where sku = ${sku}`;
      expect(row!.sold).toBeLessThanOrEqual(stockPerSku);
      const stock = (await call(api.url, 'GET', `/v1/products/${sku}`)).body.stock;
      expect(stock.sold).toBe(row!.sold);
      expect(stock.sold).toBeLessThanOrEqual(stockPerSku);
    }
    const perSku = skus.map((sku) => ledger.filter((e) => e.sku === sku && e.confirm?.status === 200).length);
    for (const count of perSku) expect(count).toBeLessThanOrEqual(stockPerSku);
  }, 180_000);
});
