import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.ts';
import { scopedKey } from '../idempotency.ts';
import { invalidRequest, problem, type Reply } from '../problems.ts';
import { withBody, type Route } from '../router.ts';
import { skuSchema, validator } from '../schemas.ts';

/*
 * The benchmark suite's server-side routes (issue #13), served by the same
 * uWebSockets.js server and router as the API when STOCKADE_BENCH_ROUTES=true
 * (refused in production), and left out of /openapi.json: they are not part
 * of the contract.
 *
 * - POST /bench/ceiling: everything the router does for POST /v1/reservations
 *   (token, Idempotency-Key, body read, parsed and validated, metrics, the
 *   reply path) and a canned 201, without Redis or PostgreSQL: what the HTTP
 *   layer itself costs, the most this machine serves with the load generator.
 * - POST /bench/row-lock/…: the classic implementation done well, the peer
 *   Stockade must beat: one atomic statement per reservation in PostgreSQL
 *   (a conditional UPDATE of the SKU's row, which serializes its buyers on the
 *   row lock, and the hold's INSERT), over the API's own pool.
 */

/** A reservation-shaped constant, about the size of a real reply. */
const cannedReservation = {
  id: 'r0-canned-ceiling-reply-0000000000000000',
  status: 'held',
  user_id: 'bench-user-000000',
  items: [{ sku: 'BENCH-CEILING-SKU', qty: 1, price_cents: 12_900 }],
  total_cents: 12_900,
  expires_at: '2026-01-01T00:10:00.000Z',
};

/** The columns are PostgreSQL `int`. */
const int4Max = 2_147_483_647;

const RowLockProduct = Type.Object({ sku: skuSchema, stock: Type.Integer({ minimum: 0, maximum: int4Max }) }, { additionalProperties: false });
const rowLockProduct = validator('BenchRowLockProduct', RowLockProduct);

/** Any number taken; only one setup at a time, across API processes (CREATE TABLE IF NOT EXISTS races itself). */
const setupLockId = 0x5b_e4_c4;

/** unique_violation: the Idempotency-Key of an earlier hold. */
const uniqueViolation = '23505';

export function benchRoutes(d: ApiDeps): Route[] {
  const request = { tag: 'reservations', access: 'token', idempotencyKey: 'required' } as const;
  return [
    withBody(d.validators.createReservation, { ...request, method: 'post', pattern: '/bench/ceiling', operationId: 'benchCeiling',
      summary: 'The HTTP layer alone: POST /v1/reservations as the router serves it, and a canned 201',
      responses: { 201: { description: 'a canned reservation' } },
      handler: async () => ({ status: 201, body: cannedReservation }) }),
    withBody(rowLockProduct, { method: 'post', pattern: '/bench/row-lock/products', operationId: 'benchRowLockProduct', tag: 'products',
      access: 'admin', summary: "The row-lock baseline: create its tables if missing, set a SKU's stock (reserved 0, its holds deleted)",
      responses: { 200: { description: '{sku, available}' } },
      handler: async (req) => ({ status: 200, body: await setRowLockStock(d, req.body.sku, req.body.stock) }) }),
    withBody(d.validators.createReservation, { ...request, method: 'post', pattern: '/bench/row-lock/reservations',
      operationId: 'benchRowLockReserve', summary: 'The row-lock baseline: hold one line with one statement in PostgreSQL',
      responses: { 201: { description: 'the hold, reservation-shaped' } }, problems: ['out-of-stock', 'idempotency-key-reused'],
      handler: async (req) => {
        const b = req.body;
        if (b.items.length !== 1) {
          return invalidRequest('the row-lock baseline takes carts of exactly one line', [{ pointer: '/items', message: 'must have exactly one line' }]);
        }
        const ttlMs = b.ttl_ms ?? d.engine.settings.holdTtlMsDefault;
        const asyncCommit = req.query.get('commit') === 'async';
        return rowLockReserve(d, b.user_id, b.items[0]!, scopedKey(req, 'reserve', req.idempotencyKey), ttlMs, asyncCommit);
      } }),
  ];
}

async function setRowLockStock(d: ApiDeps, sku: string, stock: number): Promise<{ sku: string; available: number }> {
  return d.sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${setupLockId})`;
    await tx`create table if not exists bench_rowlock_stock (sku text primary key, available int not null check (available >= 0),
      reserved int not null default 0)`;
    await tx`create table if not exists bench_rowlock_holds (id bigserial primary key, sku text not null, user_id text not null,
      qty int not null, idempotency_key text not null unique, expires_at timestamptz not null)`;
    await tx`delete from bench_rowlock_holds where sku = ${sku}`;
    const [row] = await tx<{ sku: string; available: number }[]>`insert into bench_rowlock_stock (sku, available, reserved)
      values (${sku}, ${stock}, 0) on conflict (sku) do update set available = excluded.available, reserved = 0 returning sku, available`;
    return row!;
  });
}

/**
 * One round trip: the conditional UPDATE takes the SKU's row lock (concurrent
 * buyers of the SKU queue on it) and the INSERT writes the hold in the same
 * statement, so the two commit together. A prepared statement (postgres.js
 * prepares tagged templates), no transaction beyond the statement's own.
 * It commits as classic implementations do, waiting for its WAL flush; with
 * `?commit=async` it does not (synchronous_commit off, for this statement
 * only): the durability of Stockade's own holds (Redis AOF everysec), the peer
 * at its best. With the flush the peer ran at 1,329 holds/s, without it
 * 3,883/s (50 connections, one run each, same machine).
 */
async function rowLockReserve(d: ApiDeps, userId: string, line: { sku: string; qty: number }, key: string, ttlMs: number,
  asyncCommit: boolean): Promise<Reply> {
  const { sku, qty } = line;
  let rows: { id: number; expires_at: Date }[];
  try {
    rows = await d.sql`with up as (update bench_rowlock_stock set available = available - ${qty}, reserved = reserved + ${qty}
        where sku = ${sku} and available >= ${qty} returning sku)
      insert into bench_rowlock_holds (sku, user_id, qty, idempotency_key, expires_at)
      select sku, ${userId}, ${qty}, ${key}, now() + make_interval(secs => ${ttlMs}::int / 1000.0)
      from up, (select set_config('synchronous_commit', ${asyncCommit ? 'off' : 'on'}, true)) as durability returning id, expires_at`;
  } catch (error) {
    if ((error as { code?: string }).code !== uniqueViolation) throw error;
    // The baseline keeps no answers to replay: a key used before is refused, whatever its body.
    return problem('idempotency-key-reused', 'the row-lock baseline keeps no answers: this Idempotency-Key was used already');
  }
  const hold = rows[0];
  if (!hold) return outOfStock(d, sku, qty);
  return { status: 201, body: { id: String(hold.id), status: 'held', user_id: userId, items: [{ sku, qty, price_cents: 0 }], total_cents: 0,
    expires_at: hold.expires_at.toISOString() } };
}

/**
 * No row: fewer than qty were left, or no such SKU (both answered out-of-stock).
 * For one unit that means none is left, known without another statement; for
 * more, a second read says how many are (a path the benchmark does not take).
 */
async function outOfStock(d: ApiDeps, sku: string, qty: number): Promise<Reply> {
  const available = qty === 1 ? 0 : (await d.sql<{ available: number }[]>`select available from bench_rowlock_stock where sku = ${sku}`)[0]?.available ?? 0;
  return problem('out-of-stock', `only ${available} of ${sku} available`, { sku, available });
}
