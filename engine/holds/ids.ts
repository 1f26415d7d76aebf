import { randomFillSync } from 'node:crypto';
import { StockadeError } from '../../common/errors.ts';

/**
 * Ids are opaque and unguessable (DESIGN §4: at least 96 random bits; an id is
 * no handle on its neighbours): a random part of `randomChars` characters of
 * lowercase base32 (RFC 4648's alphabet, so ids stay URL- and path-safe), 5
 * bits each, 120 bits in all. No counter and no process tag: nothing in one id
 * tells anything about another. Made without a round trip (they are on the hot
 * path): each character is one byte of a pooled buffer that the OS's CSPRNG
 * fills, mapped to the alphabet once per fill, so an id costs one slice.
 */
export const randomChars = 24;
const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
const alphabetCodes = Uint8Array.from(alphabet, (c) => c.charCodeAt(0));
const poolBytes = 256 * randomChars;
const pool = Buffer.allocUnsafe(poolBytes);
let poolAt = poolBytes;

function refillPool(): void {
  randomFillSync(pool);
  // 256 is a multiple of 32: the low 5 bits of a uniform byte are uniform.
  for (let i = 0; i < poolBytes; i++) pool[i] = alphabetCodes[pool[i]! & 31]!;
  poolAt = 0;
}

/** `chars` random base32 characters (5 bits each). */
export function randomText(chars = randomChars): string {
  if (chars > poolBytes) throw new StockadeError('ASSERTION', `randomText of ${chars} characters`);
  if (poolAt + chars > poolBytes) refillPool();
  const text = pool.toString('latin1', poolAt, poolAt + chars);
  poolAt += chars;
  return text;
}

/**
 * Reservation ids: "<partition>.<random>". The partition prefix lets
 * confirm/release find their hash slot without a lookup.
 */
export class IdMaker {
  next(partition: number): string {
    return `${partition}.${randomText()}`;
  }
}

/** Reservation ids made now. */
const idPattern = new RegExp(`^(\\d{1,4})\\.[a-z2-7]{${randomChars}}$`);
/**
 * Reservation ids made before ids were random ("<partition>.<12-character
 * process tag><base-36 counter>"): holds made before an upgrade stay in Redis
 * (and their orders in PostgreSQL), and must still confirm, release and read.
 */
const legacyIdPattern = /^(\d{1,4})\.[a-z0-9]{13,30}$/;

/** The partition an id names, or -1 when the text is no reservation id of this install. */
export function partitionOfId(id: string, partitions: number): number {
  const match = idPattern.exec(id) ?? legacyIdPattern.exec(id);
  if (!match) return -1;
  const partition = Number(match[1]);
  return partition < partitions ? partition : -1;
}

/**
 * Order ids: "o<random>", proposed with a reservation's charge (the payment
 * provider keeps it in its record, so a commit redone after Redis lost it uses
 * the same one) and kept in the hold's record when its home part commits (every
 * repeat of the commit answers the stored one); nothing in it is derived from
 * the reservation id, nor the reverse.
 */
export function newOrderId(): string {
  return `o${randomText()}`;
}

const orderIdPattern = new RegExp(`^o[a-z2-7]{${randomChars}}$`);
/** Order ids made before ("o" and the reservation id), still in PostgreSQL. */
const legacyOrderIdPattern = /^o\d{1,4}\.[a-z0-9]{13,30}$/;

/** Whether the text has the shape of an order id (of either format): checked before SQL sees it. */
export function isOrderId(text: string): boolean {
  return orderIdPattern.test(text) || legacyOrderIdPattern.test(text);
}
