import type { Sql } from './db.ts';

/** An order PostgreSQL has a part of in one partition; its reservation and user null while its home part is not written. */
export interface WrittenPart {
  orderId: string;
  reservationId: string | null;
  userId: string | null;
}

/** Rows one page of writtenParts reads. */
const pageRows = 1_000;

/**
 * The orders whose part in `partition` PostgreSQL wrote within the last
 * `withinMs` (hold records live that long in Redis), a page at a time in order
 * id order, at most `rowsMax`.
 */
export async function* writtenParts(sql: Sql, partition: number, withinMs: number, rowsMax: number): AsyncGenerator<WrittenPart[]> {
  let after = '';
  for (let read = 0; read < rowsMax;) {
    const rows = await sql<{ id: string; reservation_id: string | null; user_id: string | null }[]>`
      select op.order_id as id, o.reservation_id, o.user_id from order_parts op left join orders o on o.id = op.order_id
      where op.part = ${partition} and op.written_at > now() - make_interval(secs => ${withinMs / 1000}) and op.order_id > ${after}
      order by op.order_id limit ${Math.min(pageRows, rowsMax - read)}`;
    if (rows.length === 0) return;
    read += rows.length;
    after = rows.at(-1)!.id;
    yield rows.map((r) => ({ orderId: r.id, reservationId: r.reservation_id, userId: r.user_id }));
  }
}

/**
 * An order PostgreSQL has fewer parts of than its part_count, or parts of
 * without its home part (no order row: reservation and part count null).
 */
export interface IncompleteOrder {
  id: string;
  reservationId: string | null;
  partCount: number | null;
  /** The partitions of the parts written. */
  parts: number[];
}

/** Orders missing a part (at most rowsMax of each kind): complete once every part's event is written, or lost with a Redis that went back. */
export async function incompleteOrders(sql: Sql, rowsMax: number): Promise<IncompleteOrder[]> {
  const short = await sql<{ id: string; reservation_id: string; part_count: number; parts: (number | null)[] }[]>`
    select o.id, o.reservation_id, o.part_count, array_agg(op.part) as parts from orders o
    left join order_parts op on op.order_id = o.id
    where o.part_count > 1
    group by o.id having count(op.part) < o.part_count limit ${rowsMax}`;
  const homeless = await sql<{ id: string; parts: number[] }[]>`
    select op.order_id as id, array_agg(op.part) as parts from order_parts op
    where not exists (select 1 from orders o where o.id = op.order_id)
    group by op.order_id limit ${rowsMax}`;
  return [
    ...short.map((r) => ({ id: r.id, reservationId: r.reservation_id, partCount: r.part_count, parts: r.parts.filter((p): p is number => p !== null) })),
    ...homeless.map((r) => ({ id: r.id, reservationId: null, partCount: null, parts: r.parts })),
  ];
}
