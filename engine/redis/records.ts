import { StockadeError } from '../../common/errors.ts';

/**
 * Decodes hold records: the one reader in TypeScript of the format that
 * lua/includes/record.lua writes (and describes); both are checked against
 * test/fixtures/records.json. Version 2 starts with its version field; version
 * 1 (written before versions, still read) starts with its status word.
 */
const SEP = '\x1f';
/** Values per line in a record: sku, qty, price_cents, counted. */
const LINE_FIELDS = 4;
/** The note word of a record whose note is a recorded outcome (in the three fields after it). */
const OUTCOME = 'outcome';

/** A comma-separated partition list (a cart's parts, as records and script replies carry it) as numbers. */
export const partitionList = (text: unknown): number[] => (text ? String(text).split(',').map(Number) : []);

export type HoldStatus = 'pending' | 'held' | 'paying' | 'confirmed' | 'released' | 'expired' | 'aborted' | 'rejected';

export interface Line {
  sku: string;
  qty: number;
  priceCents: number;
}

/** Noted on a hold the saga released: the charge was declined, voided by the overdue recovery, refunded after a late capture, or another part of its cart expired. */
export type ReleaseReason = 'declined' | 'voided' | 'refunded' | 'compensated' | '';
const releaseReasons = new Set<string>(['declined', 'voided', 'refunded', 'compensated']);

export interface HoldRecord {
  status: HoldStatus;
  userId: string;
  createdAtMs: number;
  expiresAtMs: number;
  /** The home partition, for a part of a multi-partition cart; '' otherwise. */
  home: string;
  /** Every partition of a multi-partition cart, on its home part; [] otherwise. */
  parts: number[];
  lines: Line[];
  endedAtMs: number;
  /** The recorded rejection [code, sku, n] of a rejected or aborted request. */
  note: [number, string, number] | null;
  /** Why a released hold was released, when the saga did it ('' for a client's release or none). */
  reason: ReleaseReason;
  /** A cart home that expired while still pending: never a reservation, no client was told of it. */
  unfinished: boolean;
  orderId: string;
}

/** The record's note slot: a word, or a recorded outcome. */
type Note = string | [number, string, number];

export function decodeRecord(raw: string): HoldRecord {
  let pos = 0;
  const next = () => {
    const end = raw.indexOf(SEP, pos);
    if (end < 0) throw new StockadeError('ASSERTION', `hold record cut short: ${JSON.stringify(raw.slice(0, 40))}`);
    const value = raw.slice(pos, end);
    pos = end + 1;
    return value;
  };
  const version = versionOf(raw);
  if (version === 2) next();
  const [status, created, expires, home, parts, ended, orderId] = Array.from({ length: 7 }, next) as [string, ...string[]];
  const note = version === 2 ? v2Note(next(), next(), next(), next()) : v1Note(next());
  const lineCount = Number(next());
  const lines: Line[] = [];
  for (let i = 0; i < lineCount; i++) {
    const line = Array.from({ length: LINE_FIELDS }, next);
    lines.push({ sku: line[0]!, qty: Number(line[1]), priceCents: Number(line[2]) });
  }
  return {
    status: status as HoldStatus,
    userId: raw.slice(pos),
    createdAtMs: Number(created),
    expiresAtMs: Number(expires),
    home: home!,
    parts: partitionList(parts),
    lines,
    endedAtMs: Number(ended),
    note: typeof note === 'string' ? null : note,
    reason: releaseReasons.has(note as string) ? (note as ReleaseReason) : '',
    unfinished: note === 'unfinished',
    orderId: orderId!,
  };
}

/** 2 for a record that starts with the version field '2'; 1 for one that starts with its status word (a letter). */
function versionOf(raw: string): 1 | 2 {
  if (raw.startsWith(`2${SEP}`)) return 2;
  const first = raw.charCodeAt(0);
  if (first >= 0x61 && first <= 0x7a) return 1;
  throw new StockadeError('ASSERTION', `hold record of unknown version: ${JSON.stringify(raw.slice(0, 8))}`);
}

function v2Note(word: string, code: string, a: string, b: string): Note {
  return word === OUTCOME ? [Number(code), a, Number(b)] : word;
}

/** Version 1 kept the note as one text: a word, or the outcome "code,a,b" (a is a sku: no comma; words have none). */
function v1Note(text: string): Note {
  const fields = text.split(',');
  return fields.length === 3 ? [Number(fields[0]), fields[1]!, Number(fields[2])] : text;
}
