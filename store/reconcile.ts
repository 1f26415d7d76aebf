import type { Sql } from './db.ts';

/** What PostgreSQL says, read in one repeatable-read snapshot, for `reconcile verify`. */
export interface StoreView {
  /** Per SKU: the sum of its ledger's deltas and the latest ledger row's total, counting events up to each partition's cut. */
  ledger: Map<string, { total: number; latestTotal: number }>;
  /** Per SKU (of those asked about): units in order items written by events up to each partition's cut. */
  sold: Map<string, number>;
  /** Products that have a row (whatever their events). */
  products: Set<string>;
  /** Of the event ids asked about, those already written (an order part or a ledger row). */
  written: Set<string>;
  /** Every order: its reservation, and its payment row when it has one. */
  orders: { id: string; reservationId: string; payment: { amountCents: number; status: string } | null }[];
}

/**
 * A partition's cut: the last outbox stream id Redis had given when its counts
 * were read. Rows written from later events (committed in Redis after that
 * read, written through before this one) are left out, so the two reads compare
 * the same history.
 */
export interface Cut {
  partition: number;
  lastEventId: string;
}

const streamMs = (id: string) => Number(id.split('-')[0]);
const streamSeq = (id: string) => Number(id.split('-')[1] ?? 0);

/**
 * `skuParts`: the partition of every SKU whose sold units are wanted; `askedEventIds`: the undrained events
 * seen in Redis (those written meanwhile are answered in `written`).
 */
export async function readStoreView(sql: Sql, cuts: Cut[], skuParts: { sku: string; partition: number }[],
  askedEventIds: string[]): Promise<StoreView> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const cutRows = tx`select * from unnest(${tx.array(cuts.map((c) => c.partition))}::int[],
      ${tx.array(cuts.map((c) => String(streamMs(c.lastEventId))))}::bigint[],
      ${tx.array(cuts.map((c) => String(streamSeq(c.lastEventId))))}::bigint[]) as c(part, ms, seq)`;
    // An event id is '<partition>:<ms>-<seq>': within the cut when its stream id is at or before its partition's.
    const within = (column: string) => tx`exists (select 1 from (${cutRows}) c where c.part = split_part(${tx(column)}, ':', 1)::int
      and (split_part(split_part(${tx(column)}, ':', 2), '-', 1)::bigint, split_part(${tx(column)}, '-', 2)::bigint) <= (c.ms, c.seq))`;
    const ledger = await tx`select sku, sum(delta)::bigint as total,
        (array_agg(total order by split_part(split_part(event_id, ':', 2), '-', 1)::bigint desc,
          split_part(event_id, '-', 2)::bigint desc))[1] as latest
      from stock_ledger where ${within('event_id')} group by sku`;
    // An item is written by the order part of its SKU's partition (every line of an order, for a one-part order).
    const skuRows = tx`select * from unnest(${tx.array(skuParts.map((p) => p.sku))}::text[], ${tx.array(skuParts.map((p) => p.partition))}::int[])
      as sp(sku, part)`;
    const sold = await tx`select i.sku, sum(i.qty)::bigint as sold from order_items i
      join (${skuRows}) sp on sp.sku = i.sku
      join order_parts op on op.order_id = i.order_id and op.part = sp.part
      where ${within('op.event_id')} group by i.sku`;
    const products = await tx`select sku from products`;
    const written = askedEventIds.length === 0 ? [] : await tx`
      select event_id from order_parts where event_id = any(${tx.array(askedEventIds)})
      union all select event_id from stock_ledger where event_id = any(${tx.array(askedEventIds)})`;
    const orders = await tx`select o.id, o.reservation_id, p.amount_cents, p.status from orders o left join payments p on p.order_id = o.id`;
    return {
      ledger: new Map(ledger.map((r) => [r.sku as string, { total: Number(r.total), latestTotal: Number(r.latest) }])),
      sold: new Map(sold.map((r) => [r.sku as string, Number(r.sold)])),
      products: new Set(products.map((r) => r.sku as string)),
      written: new Set(written.map((r) => r.event_id as string)),
      orders: orders.map((r) => ({
        id: r.id as string, reservationId: r.reservation_id as string,
        payment: r.amount_cents === null ? null : { amountCents: Number(r.amount_cents), status: r.status as string },
      })),
    };
  });
}
