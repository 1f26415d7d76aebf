import { Redis } from 'ioredis';
import { Engine } from '../engine/index.ts';
import { rebuildFromRecord } from '../cli/rebuild.ts';
import { connectDb } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';

/**
 * How long `reconcile rebuild` takes to restore an empty Redis from PostgreSQL:
 * `skus` products (100 units each, a per-user limit of 5) and `orders` orders of
 * one unit each, every order its own user (so every order is a per-user count
 * to restore), written straight into PostgreSQL; then the rebuild, timed; then
 * a sample of SKUs read back through the engine and compared with PostgreSQL.
 */
export interface RebuildBenchResult {
  skus: number;
  orders: number;
  partitions: number;
  seconds: number;
  skusPerSec: number;
  /** SKUs read back whose counts were not PostgreSQL's (0 when the rebuild is right). */
  wrong: number;
}

const stockPerSku = 100;
const sampleSkus = 100;

export async function benchRebuild(o: { redisUrl: string; databaseUrl: string; skus: number; orders: number; report?: (text: string) => void }): Promise<RebuildBenchResult> {
  const report = o.report ?? (() => {});
  const redis = new Redis(o.redisUrl);
  const sql = connectDb(o.databaseUrl, { max: 2 });
  try {
    await migrate(sql);
    report('write the products and orders into PostgreSQL');
    await sql`insert into products (sku, name, price_cents, per_user_limit, created_at)
      select 'RB-' || i, 'p' || i, 100, 5, now() from generate_series(0, ${o.skus - 1}::int) i`;
    await sql`insert into stock_ledger (event_id, sku, delta, total, at)
      select '0:1-' || i, 'RB-' || i, ${stockPerSku}::int, ${stockPerSku}::int, now() from generate_series(0, ${o.skus - 1}::int) i`;
    await sql`insert into orders (id, reservation_id, user_id, total_cents, part_count, created_at)
      select 'o' || i, 'r' || i, 'u' || i, 100, 1, now() from generate_series(0, ${o.orders - 1}::int) i`;
    await sql`insert into order_items (order_id, sku, qty, price_cents)
      select 'o' || i, 'RB-' || (i % ${o.skus}::int), 1, 100 from generate_series(0, ${o.orders - 1}::int) i`;
    const engine = Engine.create(redis);
    report('rebuild');
    const started = performance.now();
    const summary = await rebuildFromRecord(engine, sql, {}, report);
    const seconds = (performance.now() - started) / 1000;
    let wrong = 0;
    for (let i = 0; i < Math.min(sampleSkus, o.skus); i++) {
      const sku = `RB-${Math.floor((i * o.skus) / Math.min(sampleSkus, o.skus))}`;
      const index = Number(sku.slice(3));
      const sold = Math.floor(o.orders / o.skus) + (index < o.orders % o.skus ? 1 : 0);
      const p = await engine.getProduct(sku);
      if (!p || p.stock.total !== stockPerSku || p.stock.sold !== sold || p.stock.available !== stockPerSku - sold || p.stock.reserved !== 0) wrong += 1;
    }
    return { skus: summary.products, orders: o.orders, partitions: summary.partitions.length, seconds: Math.round(seconds * 1000) / 1000,
      skusPerSec: Math.round(summary.products / seconds), wrong };
  } finally {
    await Promise.allSettled([redis.quit(), sql.end({ timeout: 5 })]);
  }
}
