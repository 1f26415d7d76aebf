import { unpack } from 'msgpackr';

/** Mirrors lua/includes/record.lua (1-based there, 0-based here). */
const R = { STATUS: 0, USER: 1, CREATED: 2, EXPIRES: 3, TOTAL: 4, HOME: 5, PARTS: 6, LINES: 7, ENDED: 8, NOTE: 9, ORDER: 10 } as const;
const LINE_STRIDE = 4;

export type HoldStatus = 'pending' | 'held' | 'paying' | 'confirmed' | 'released' | 'expired' | 'aborted' | 'rejected';

export interface Line {
  sku: string;
  qty: number;
  priceCents: number;
}

export interface HoldRecord {
  status: HoldStatus;
  userId: string;
  createdAtMs: number;
  expiresAtMs: number;
  totalCents: number;
  /** The home partition, for a part of a multi-partition cart; '' otherwise. */
  home: string;
  /** Every partition of a multi-partition cart, on its home part; '' otherwise. */
  parts: number[];
  lines: Line[];
  endedAtMs: number;
  /** The recorded rejection {code, a, b} of a rejected or aborted request. */
  note: [number, string, number] | null;
  orderId: string;
}

export function decodeRecord(raw: Buffer): HoldRecord {
  const r = unpack(raw) as unknown[];
  const flat = (r[R.LINES] as unknown[]) ?? [];
  const lines: Line[] = [];
  for (let i = 0; i < flat.length; i += LINE_STRIDE) {
    lines.push({ sku: String(flat[i]), qty: Number(flat[i + 1]), priceCents: Number(flat[i + 2]) });
  }
  const parts = String(r[R.PARTS] ?? '');
  const note = r[R.NOTE];
  return {
    status: r[R.STATUS] as HoldStatus,
    userId: String(r[R.USER]),
    createdAtMs: Number(r[R.CREATED]),
    expiresAtMs: Number(r[R.EXPIRES]),
    totalCents: Number(r[R.TOTAL]),
    home: String(r[R.HOME] ?? ''),
    parts: parts === '' ? [] : parts.split(',').map(Number),
    lines,
    endedAtMs: Number(r[R.ENDED]),
    note: Array.isArray(note) ? [Number(note[0]), String(note[1]), Number(note[2])] : null,
    orderId: String(r[R.ORDER] ?? ''),
  };
}
