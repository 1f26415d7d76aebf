import { Unpackr } from 'msgpackr';
import { StockadeError } from '../../common/errors.ts';
import { partitionList, type Line } from './records.ts';

/** Lua's cmsgpack writes times (ms) as 64-bit integers: read them as numbers (all < 2^53). */
const unpackr = new Unpackr({ int64AsType: 'number', mapsAsObjects: true });

/**
 * Outbox events, decoded: the one reader in TypeScript of the msgpack maps
 * that lua/includes/outbox.lua writes (and describes); both are checked against
 * test/fixtures/outbox-events.json. Version 3 events carry `v: 3` and `q`, the
 * partition's sequence number (the fencing marker); version 2 (`v: 2`, no `q`)
 * and version 1 (no `v`, written before versions) still decode, without `q`. An order's lines and parts
 * come out typed, whatever layout its version had.
 */
export type OutboxEvent = (
  | { t: 'product'; sku: string; name: string; price: number; limit: number; stock: number; at: number }
  | { t: 'stock'; sku: string; delta: number; total: number; at: number }
  | { t: 'order'; id: string; order: string; user: string; home: string; parts: number[]; lines: Line[];
      total: number; amount: number; payment: string; at: number }
  | { t: 'refund'; id: string; user: string; amount: number; payment: string; reason: string; at: number }
) & { q?: number };

type FieldType = 'string' | 'number';

/** The scalar fields of each event type (an order's lines and parts are read by its version's layout). */
const eventShapes: Record<OutboxEvent['t'], Record<string, FieldType>> = {
  product: { sku: 'string', name: 'string', price: 'number', limit: 'number', stock: 'number', at: 'number' },
  stock: { sku: 'string', delta: 'number', total: 'number', at: 'number' },
  order: { id: 'string', order: 'string', user: 'string', home: 'string', total: 'number', amount: 'number',
    payment: 'string', at: 'number' },
  refund: { id: 'string', user: 'string', amount: 'number', payment: 'string', reason: 'string', at: 'number' },
};

/** One [sku, qty, price_cents] array per line, and parts as an array of partition numbers. */
const arrayLayout = {
  lines: (v: unknown) => (Array.isArray(v) && v.every((l) => Array.isArray(l) && l.length === 3) ? typedLines(v) : null),
  parts: (v: unknown) => partitionNumbers(v),
};

/** An order's lines and parts as each version laid them out; null when they are not. */
const orderLayouts: Record<1 | 2 | 3, { lines: (v: unknown) => Line[] | null; parts: (v: unknown) => number[] | null }> = {
  // The hold record's own line list, flat (sku, qty, price_cents, counted per line), and parts as comma-separated text.
  1: {
    lines: (v) => {
      if (!Array.isArray(v) || v.length % 4 !== 0) return null;
      const lines: unknown[][] = [];
      for (let i = 0; i < v.length; i += 4) lines.push(v.slice(i, i + 3));
      return typedLines(lines);
    },
    parts: (v) => (typeof v === 'string' ? partitionNumbers(partitionList(v)) : null),
  },
  // One [sku, qty, price_cents] array per line, and parts as an array of partition numbers.
  2: arrayLayout,
  // Version 2's (the event has q).
  3: arrayLayout,
};

function typedLines(lines: unknown[][]): Line[] | null {
  const typed = lines.map(([sku, qty, priceCents]) => ({ sku, qty, priceCents }));
  const valid = typed.every((l) => typeof l.sku === 'string' && Number.isInteger(l.qty) && Number.isInteger(l.priceCents));
  return valid ? (typed as Line[]) : null;
}

function partitionNumbers(v: unknown): number[] | null {
  return Array.isArray(v) && v.every((p) => Number.isInteger(p) && p >= 0) ? v : null;
}

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
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'is not a msgpack map';
  return typedEvent(event as Record<string, unknown>);
}

function typedEvent(event: Record<string, unknown>): OutboxEvent | string {
  const version = event.v === undefined ? 1 : event.v;
  if (version !== 1 && version !== 2 && version !== 3) return `has an unknown event version ${JSON.stringify(version)?.slice(0, 40)}`;
  const type = event.t;
  const shape = typeof type === 'string' && Object.hasOwn(eventShapes, type) ? eventShapes[type as OutboxEvent['t']] : null;
  if (!shape) return `has an unknown event type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}`;
  const typed: Record<string, unknown> = { t: type };
  for (const [name, fieldType] of Object.entries(shape)) {
    if (typeof event[name] !== fieldType) return `has a ${type} event without a valid ${name}`;
    typed[name] = event[name];
  }
  if (version === 3) {
    if (!Number.isSafeInteger(event.q) || (event.q as number) < 1) return `has a ${type} event without a valid q`;
    typed.q = event.q;
  }
  if (type === 'order') {
    const layout = orderLayouts[version];
    for (const name of ['lines', 'parts'] as const) {
      typed[name] = layout[name](event[name]);
      if (typed[name] === null) return `has an order event without valid ${name}`;
    }
  }
  return typed as OutboxEvent;
}
