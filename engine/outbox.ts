import { Unpackr } from 'msgpackr';

/** Lua's cmsgpack writes times (ms) as 64-bit integers: read them as numbers (all < 2^53). */
const unpackr = new Unpackr({ int64AsType: 'number', mapsAsObjects: true });
const eventTypes = new Set(['product', 'stock', 'order', 'refund']);

/** Outbox events as the scripts append them (cmsgpack maps; see lua/*.lua). */
export type OutboxEvent =
  | { t: 'product'; sku: string; name: string; price: number; limit: number; stock: number; at: number }
  | { t: 'stock'; sku: string; delta: number; total: number; at: number }
  | { t: 'order'; id: string; order: string; user: string; home: string; parts: string; lines: (string | number)[];
      total: number; amount: number; payment: string; at: number }
  | { t: 'refund'; id: string; user: string; amount: number; payment: string; reason: string; at: number };

export interface OutboxEntry {
  /** '<partition>:<stream id>': unique across the install, the rows' idempotency key. */
  eventId: string;
  streamId: string;
  event: OutboxEvent;
}

/** Decodes XRANGE entries (as buffers) of one partition's outbox. */
export function decodeEntries(partition: number, entries: [Buffer, Buffer[]][]): OutboxEntry[] {
  return entries.map(([id, fields]) => {
    const streamId = id.toString();
    const at = fields.findIndex((f, i) => i % 2 === 0 && f.toString() === 'e');
    if (at < 0) throw new Error(`outbox entry ${partition}:${streamId} has no event`);
    const event = unpackr.unpack(fields[at + 1]!) as OutboxEvent;
    // An event this code does not know must stop the batch (visibly), never be skipped.
    if (!eventTypes.has(event?.t)) throw new Error(`outbox entry ${partition}:${streamId} has an unknown event type`);
    return { eventId: `${partition}:${streamId}`, streamId, event };
  });
}
