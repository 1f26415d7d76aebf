import { partitionOf, type Mark, type RecordSnapshot, type RecordView } from '../engine/index.ts';
import type { Sql } from './db.ts';

/** A product's total (the sum of its ledger's deltas) and sold (its order items), as columns of a query over `products p`. */
function totalAndSold(sql: Sql) {
  return sql`coalesce((select sum(l.delta) from stock_ledger l where l.sku = p.sku), 0) as total,
    coalesce((select sum(i.qty) from order_items i where i.sku = p.sku), 0) as sold`;
}

/** SKUs one `stockOf` query names at most (bind parameters stay far below the protocol's limit). */
const skusPerQueryMax = 10_000;

/**
 * PostgreSQL as the engine's fencing and `reconcile rebuild` read it (engine RecordView). A SKU's total is
 * the sum of its ledger's deltas (its latest total, whatever order the rows were written in).
 */
export function recordView(sql: Sql): RecordView {
  return {
    async marks() {
      const rows = await sql`select partition, seq, event_id from partition_marks`;
      return new Map<number, Mark>(rows.map((r) => [Number(r.partition), { seq: Number(r.seq), eventId: String(r.event_id) }]));
    },
    async productSkus() {
      return (await sql`select sku from products order by sku`).map((r) => String(r.sku));
    },
    async stockOf(skus) {
      const out = new Map<string, { total: number; sold: number }>();
      for (let at = 0; at < skus.length; at += skusPerQueryMax) {
        const slice = skus.slice(at, at + skusPerQueryMax);
        const rows = await sql`
          select p.sku, ${totalAndSold(sql)} from products p where p.sku = any(${slice})`;
        for (const r of rows) out.set(String(r.sku), { total: Number(r.total), sold: Number(r.sold) });
      }
      return out;
    },
  };
}

/** PostgreSQL's state of every partition with products (`reconcile rebuild`), and the markers of the others. */
export async function partitionSnapshots(sql: Sql, partitions: number): Promise<Map<number, RecordSnapshot>> {
  const [products, users, marks] = await Promise.all([
    sql`select p.sku, p.name, p.price_cents, p.per_user_limit, ${totalAndSold(sql)} from products p order by p.sku`,
    sql`select i.sku, o.user_id, sum(i.qty) as units
        from order_items i join orders o on o.id = i.order_id join products p on p.sku = i.sku
        where p.per_user_limit > 0 group by i.sku, o.user_id`,
    recordView(sql).marks(),
  ]);
  const out = new Map<number, RecordSnapshot>();
  const of = (p: number) => {
    let s = out.get(p);
    if (!s) out.set(p, (s = { products: [], userUnits: [], markSeq: marks.get(p)?.seq ?? 0 }));
    return s;
  };
  for (const p of marks.keys()) of(p);
  for (const r of products) {
    of(partitionOf(String(r.sku), partitions)).products.push({ sku: String(r.sku), name: String(r.name), priceCents: Number(r.price_cents),
      perUserLimit: Number(r.per_user_limit), total: Number(r.total), sold: Number(r.sold) });
  }
  for (const r of users) of(partitionOf(String(r.sku), partitions)).userUnits.push({ sku: String(r.sku), userId: String(r.user_id), units: Number(r.units) });
  return out;
}
