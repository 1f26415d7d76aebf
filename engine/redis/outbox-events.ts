import { Unpackr } from 'msgpackr';
import { StockadeError } from '../../common/errors.ts';

/** Lua's cmsgpack writes times (ms) as 64-bit integers: read them as numbers (all < 2^53). */
const unpackr = new Unpackr({ int64AsType: 'number', mapsAsObjects: true });

/** Outbox events as the scripts append them (cmsgpack maps; see lua/*.lua). */
export type OutboxEvent =
  | { t: 'product'; sku: string; name: string; price: number; limit: number; stock: number; at: number }
  | { t: 'stock'; sku: string; delta: number; total: number; at: number }
  | { t: 'order'; id: string; order: string; user: string; home: string; parts: string; lines: (string | number)[];
      total: number; amount: number; payment: string; at: number }
  | { t: 'refund'; id: string; user: string; amount: number; payment: string; reason: string; at: number };

type FieldType = 'string' | 'number' | 'array';

/** The fields each event type needs, as the writer reads them (store/writes.ts). */
const eventShapes: Record<OutboxEvent['t'], Record<string, FieldType>> = {
  product: { sku: 'string', name: 'string', price: 'number', limit: 'number', stock: 'number', at: 'number' },
  stock: { sku: 'string', delta: 'number', total: 'number', at: 'number' },
  order: { id: 'string', order: 'string', user: 'string', home: 'string', parts: 'string', lines: 'array',
    amount: 'number', payment: 'string', at: 'number' },
  refund: { id: 'string', user: 'string', amount: 'number', payment: 'string', reason: 'string', at: 'number' },
};

export interface OutboxEntry {
  /** '<partition>:<stream id>' (the outbox stream id, also once parked): unique across the install, the rows' idempotency key. */
  eventId: string;
  /** Its id in the stream it was read from (the outbox, or the parked stream). */
  streamId: string;
  event: OutboxEvent;
}

/** An entry this code cannot read: it fails whichever batch holds it (and ends parked), never skipped. */
export interface UndecodableEntry {
  eventId: string;
  streamId: string;
  event: null;
  problem: string;
}

export type DecodedEntry = OutboxEntry | UndecodableEntry;

/** An XRANGE entry as buffers: [id, [field, value, …]]. */
export type RawEntry = [Buffer, Buffer[]];

/**
 * Decodes XRANGE entries of one partition's outbox, or of its parked stream
 * (whose entries keep their outbox id in `src`: their event id does not change).
 * Each entry on its own: one that cannot be read does not stop the others.
 */
export function decodeEntries(partition: number, entries: RawEntry[], stream: 'outbox' | 'parked' = 'outbox'): DecodedEntry[] {
  return entries.map(([id, fields]) => {
    const streamId = id.toString();
    const sourceId = stream === 'parked' ? (fieldOf(fields, 'src')?.toString() ?? streamId) : streamId;
    const eventId = `${partition}:${sourceId}`;
    const decoded = decodeEvent(fieldOf(fields, 'e'));
    return typeof decoded === 'string'
      ? { eventId, streamId, event: null, problem: decoded }
      : { eventId, streamId, event: decoded };
  });
}

/** The entries' events, or OUTBOX_UNDECODABLE (a failure no retry fixes) naming the first that cannot be read. */
export function requireDecoded(entries: DecodedEntry[]): OutboxEntry[] {
  const bad = entries.find((e): e is UndecodableEntry => e.event === null);
  if (bad) throw new StockadeError('OUTBOX_UNDECODABLE', `outbox entry ${bad.eventId} ${bad.problem}`);
  return entries as OutboxEntry[];
}

/** The last value of a field (an entry's own fields come before `src` and `reason`). */
function fieldOf(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = fields.length - 2; i >= 0; i -= 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}

/** The event, or what is wrong with it. */
function decodeEvent(packed: Buffer | undefined): OutboxEvent | string {
  if (!packed) return 'has no event';
  let event: unknown;
  try {
    event = unpackr.unpack(packed);
  } catch (error) {
    return `is not msgpack (${(error as Error).message.slice(0, 100)})`;
  }
  return eventProblem(event) ?? (event as OutboxEvent);
}

function eventProblem(event: unknown): string | null {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'is not a msgpack map';
  const type = (event as { t?: unknown }).t;
  const shape = typeof type === 'string' && Object.hasOwn(eventShapes, type) ? eventShapes[type as OutboxEvent['t']] : null;
  if (!shape) return `has an unknown event type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}`;
  for (const [name, fieldType] of Object.entries(shape)) {
    if (!hasType((event as Record<string, unknown>)[name], fieldType)) return `has a ${type} event without a valid ${name}`;
  }
  return null;
}

function hasType(value: unknown, type: FieldType): boolean {
  return type === 'array' ? Array.isArray(value) : typeof value === type;
}
