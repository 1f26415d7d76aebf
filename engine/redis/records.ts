/** Decodes hold records: the format is written in lua/includes/record.lua; keep the two in step. */
const SEP = '\x1f';
const HEADER_FIELDS = 9;
/** Values per line in a record's (and an order event's) flat line list: sku, qty, price_cents, counted. */
export const LINE_STRIDE = 4;

/** A comma-separated partition list (a cart's parts) as numbers. */
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

export function decodeRecord(raw: string): HoldRecord {
  const fields: string[] = [];
  let pos = 0;
  const next = () => {
    const end = raw.indexOf(SEP, pos);
    const value = raw.slice(pos, end);
    pos = end + 1;
    return value;
  };
  for (let i = 0; i < HEADER_FIELDS; i++) fields.push(next());
  const [status, created, expires, home, parts, ended, orderId, note, lineCount] = fields as [string, ...string[]];
  const lines: Line[] = [];
  for (let i = 0; i < Number(lineCount); i++) {
    const line = Array.from({ length: LINE_STRIDE }, next);
    lines.push({ sku: line[0]!, qty: Number(line[1]), priceCents: Number(line[2]) });
  }
  const noteParts = note && /^-?\d+,/.test(note) ? note.split(',') : null;
  return {
    status: status as HoldStatus,
    userId: raw.slice(pos),
    createdAtMs: Number(created),
    expiresAtMs: Number(expires),
    home: home!,
    parts: partitionList(parts),
    lines,
    endedAtMs: Number(ended),
    note: noteParts ? [Number(noteParts[0]), noteParts[1]!, Number(noteParts[2])] : null,
    reason: releaseReasons.has(note!) ? (note as ReleaseReason) : '',
    unfinished: note === 'unfinished',
    orderId: orderId!,
  };
}
