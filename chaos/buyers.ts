import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Rng } from './rng.ts';

/**
 * The harness's buyers and their own ledger of every answer they received: D
 * and T are checked against it, not against the server's counts. A request
 * that gets no answer, a 5xx or a timeout is sent again with the same
 * Idempotency-Key (as a careful client does); some are sent twice at once.
 */
export interface Line {
  sku: string;
  qty: number;
}

export interface Held {
  id: string;
  key: string;
  userId: string;
  lines: Line[];
  totalCents: number;
  expiresAtMs: number;
  /** When its 201 came (ms since the epoch). */
  answeredAtMs: number;
  /** The confirm's last answer: 200 (with the order), 202, 402, 409, 410; absent: not confirmed, or no answer. */
  confirm?: { status: number; orderId?: string; amountCents?: number };
  released?: boolean;
}

export interface Ledger {
  /** Every reservation answered 201, by id. */
  held: Map<string, Held>;
  /** The id each reservation key was answered with (a key answered two ids is an I violation). */
  idOfKey: Map<string, string>;
  /** What the buyers saw that breaks an invariant by itself (an id granted to two keys, a reservation confirmed as two orders). */
  violations: string[];
  /**
   * Reservation keys answered with more than one id: an I violation, unless Redis lost data and every id but one
   * was lost with it (a resend after the loss finds no claim; the verdict decides).
   */
  keyConflicts: { key: string; ids: string[]; answeredAtMs: Record<string, number> }[];
  statuses: Map<string, number>;
  /** Requests that got no answer (connection refused or cut, a timeout): each was sent again. */
  unanswered: number;
  retries: number;
  duplicatesSent: number;
}

export function newLedger(): Ledger {
  return { held: new Map(), idOfKey: new Map(), violations: [], keyConflicts: [], statuses: new Map(), unanswered: 0, retries: 0, duplicatesSent: 0 };
}

export interface SaleOptions {
  base: string;
  clientToken: string;
  skus: string[];
  priceCents: number;
  /** Buyers at once. */
  buyers: number;
  /** When the buyers stop starting new purchases (ms since the epoch). */
  untilMs: number;
  /** How long a request may go unanswered before it is sent again. */
  requestTimeoutMs: number;
}

/** How long a buyer keeps resending one request before it gives up on it (a fault lasts at most PostgreSQL's downtime plus a start). */
const resendForMs = 90_000;
/** Pause between resends: the server is restarting, fenced or overloaded. */
const resendPauseMs = { min: 100, max: 600 };

interface Answer {
  status: number;
  body: any;
}

/** Runs `buyers` buyers until untilMs; every answer lands in the ledger. */
export async function runSale(o: SaleOptions, rng: Rng, ledger: Ledger): Promise<void> {
  let n = 0;
  await Promise.all(Array.from({ length: o.buyers }, async (_, b) => {
    const r = rng.fork(b);
    while (Date.now() < o.untilMs) await purchase(o, r, ledger, `${rng.seed}-${b}-${n++}`);
  }));
}

/** One buyer's purchase: reserve, then confirm, release, or walk away (the hold expires). */
async function purchase(o: SaleOptions, r: Rng, ledger: Ledger, tag: string): Promise<void> {
  const lines = pickLines(o, r);
  const userId = `buyer-${tag}`;
  const key = `r-${tag}`;
  const body = { user_id: userId, items: lines, ttl_ms: r.int(1_000, 4_000) };
  const twice = r.chance(0.1);
  if (twice) ledger.duplicatesSent += 1;
  const answers = await Promise.all(Array.from({ length: twice ? 2 : 1 },
    () => send(o, ledger, 'POST', '/v1/reservations', body, key).then((a) => (a ? { ...a, atMs: Date.now() } : a))));
  const granted = answers.filter((a) => a?.status === 201).map((a) => a!);
  if (granted.length === 0) return;
  const held = granted.map((a) => a.body);
  const ids = new Set(held.map((h) => h.id as string));
  const reservation = held[0];
  const known = ledger.idOfKey.get(key);
  if (known && known !== reservation.id) ids.add(known);
  if (ids.size > 1) {
    const answeredAtMs = Object.fromEntries(granted.map((a) => [a.body.id as string, a.atMs]));
    if (known && !(known in answeredAtMs)) answeredAtMs[known] = ledger.held.get(known)?.answeredAtMs ?? 0;
    ledger.keyConflicts.push({ key, ids: [...ids], answeredAtMs });
  }
  const prior = ledger.held.get(reservation.id);
  if (prior && prior.key !== key) ledger.violations.push(`reservation id ${reservation.id} granted to two keys (${prior.key} and ${key})`);
  ledger.idOfKey.set(key, reservation.id);
  const entry: Held = { id: reservation.id, key, userId, lines, totalCents: reservation.total_cents, expiresAtMs: Date.parse(reservation.expires_at),
    answeredAtMs: granted[0]!.atMs };
  ledger.held.set(entry.id, entry);
  await settle(o, r, ledger, entry);
}

/** What the buyer does with a hold: mostly pay (some at the last moment before it expires), some release, some walk away. */
async function settle(o: SaleOptions, r: Rng, ledger: Ledger, entry: Held): Promise<void> {
  const choice = r.next();
  if (choice < 0.1) return; // walks away: the hold expires
  if (choice < 0.15) {
    const a = await send(o, ledger, 'POST', `/v1/reservations/${entry.id}/release`, undefined, undefined);
    entry.released = a?.status === 200;
    return;
  }
  if (choice < 0.25) await sleepMs(Math.max(0, entry.expiresAtMs - Date.now() - r.int(0, 40))); // within ms of its expiry
  const token = r.chance(0.06) ? 'tok_declined' : r.chance(0.03) ? 'tok_timeout' : 'tok_ok';
  const confirmKey = `c-${entry.id}`;
  const twice = r.chance(0.1);
  if (twice) ledger.duplicatesSent += 1;
  const answers = await Promise.all(Array.from({ length: twice ? 2 : 1 }, () =>
    send(o, ledger, 'POST', `/v1/reservations/${entry.id}/confirm`, { payment: { token } }, confirmKey)));
  for (const a of answers) {
    if (!a) continue;
    const orderId = a.status === 200 ? (a.body.order_id as string) : undefined;
    if (entry.confirm?.orderId && orderId && orderId !== entry.confirm.orderId) {
      ledger.violations.push(`D/I: reservation ${entry.id} confirmed as two orders: ${entry.confirm.orderId} and ${orderId}`);
    }
    if (!entry.confirm?.orderId) entry.confirm = { status: a.status, orderId, amountCents: a.status === 200 ? a.body.payment?.amount_cents : undefined };
  }
}

/** Picks one or two lines (two distinct SKUs), a unit or two each. */
function pickLines(o: SaleOptions, r: Rng): Line[] {
  const first = r.pick(o.skus);
  const lines: Line[] = [{ sku: first, qty: r.int(1, 2) }];
  if (r.chance(0.2)) {
    const second = r.pick(o.skus);
    if (second !== first) lines.push({ sku: second, qty: 1 });
  }
  return lines;
}

/**
 * Sends a request until it gets an answer that is not a 5xx (or resendForMs
 * passes: null); a resend carries the same Idempotency-Key. Each answer's
 * status is counted.
 */
async function send(o: SaleOptions, ledger: Ledger, method: string, path: string, body: unknown, key: string | undefined): Promise<Answer | null> {
  const deadline = Date.now() + resendForMs;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) ledger.retries += 1;
    const answer = await once(o, method, path, body, key);
    const label = answer ? String(answer.status) : 'no answer';
    ledger.statuses.set(label, (ledger.statuses.get(label) ?? 0) + 1);
    if (!answer) ledger.unanswered += 1;
    if (answer && answer.status < 500) return answer;
    if (Date.now() > deadline) return null;
    await sleepMs(resendPauseMs.min + Math.floor(Math.random() * (resendPauseMs.max - resendPauseMs.min)));
  }
}

async function once(o: SaleOptions, method: string, path: string, body: unknown, key: string | undefined): Promise<Answer | null> {
  try {
    const res = await fetch(`${o.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${o.clientToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { 'idempotency-key': key } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(o.requestTimeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch {
    return null;
  }
}

