import { randomBytes } from 'node:crypto';

/**
 * Reservation ids are made without a round trip: "<partition>.<process tag><counter>".
 * The partition prefix lets confirm/release find their hash slot without a lookup;
 * the random tag (60 bits) keeps ids of different processes apart.
 */
export class IdMaker {
  private readonly tag: string;
  private counter = 0;
  constructor() {
    this.tag = randomBytes(8).readBigUInt64BE().toString(36).slice(0, 12).padStart(12, '0');
  }
  next(partition: number): string {
    this.counter += 1;
    return `${partition}.${this.tag}${this.counter.toString(36)}`;
  }
}

const idPattern = /^(\d{1,4})\.[a-z0-9]{13,30}$/;

/** The partition an id names, or -1 when the text is no reservation id of this install. */
export function partitionOfId(id: string, partitions: number): number {
  const match = idPattern.exec(id);
  if (!match) return -1;
  const partition = Number(match[1]);
  return partition < partitions ? partition : -1;
}
