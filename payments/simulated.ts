import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { settledCharge, type ChargeRecord, type ChargeRequest, type ChargeResult, type PaymentProvider } from '../engine/index.ts';
import { privateDir } from '../services/private-files.ts';
import { linkOnce, readdirIfExists, readIfExists, writeOnce } from './durable.ts';

/** The capture index: a directory per minute (ms since the epoch / 60,000), a link to each capture recorded in it. */
const indexDir = 'captured';
const minuteOf = (ms: number) => Math.floor(ms / 60_000);
/** Minutes of the index older than this are removed when it is read (a restart looks back minutes, not days). */
const indexKeepMs = 86_400_000;

export interface SimulatedProviderOptions {
  /** Added to every charge, to model a real provider's latency. */
  latencyMs?: number;
  /** Share of tok_ok charges declined at random (0..1), for benchmarks. */
  failureRate?: number;
  /** A provider that ignores voids (tests: the path where a capture lands on a released hold). */
  ignoreVoids?: boolean;
  /**
   * Tests only: awaited after the latency, before a charge's record is written,
   * so a test can hold a charge at the provider until another step (a void) has run.
   */
  beforeRecord?: (reservationId: string) => Promise<void>;
}

/** What a record file holds: the first outcome of a reservation's charge (or its void). */
type StoredRecord = Omit<ChargeRecord, 'refunded'>;

/**
 * The built-in simulated provider. Tokens: `tok_ok` captures, `tok_declined`
 * declines, `tok_timeout` captures but does not answer within the timeout (the
 * answer is lost, as a dropped connection would lose it); anything else declines.
 *
 * Like a real provider it keeps its own durable record per reservation, outside
 * Stockade's Redis and PostgreSQL (so it survives either losing data or being
 * down): one file per reservation under its directory, written once
 * (payments/durable.ts), so the first charge, decline or void wins, from any
 * process; a refund is a second file beside it.
 */
export class SimulatedProvider implements PaymentProvider {
  /** Charges started and not yet answered (observable state, for tests). */
  chargesInFlight = 0;
  private constructor(private readonly dir: string, private readonly options: SimulatedProviderOptions) {}

  static async create(dir: string, options: SimulatedProviderOptions = {}): Promise<SimulatedProvider> {
    privateDir(dir); // 0700 (its records are 0600: payments/durable.ts)
    return new SimulatedProvider(dir, options);
  }

  async charge(request: ChargeRequest, timeoutMs: number): Promise<ChargeResult> {
    this.chargesInFlight += 1;
    try {
      return await this.chargeOnce(request, timeoutMs);
    } finally {
      this.chargesInFlight -= 1;
    }
  }

  private async chargeOnce(request: ChargeRequest, timeoutMs: number): Promise<ChargeResult> {
    const previous = await this.lookup(request.reservationId);
    if (previous) {
      // A charge sent again after a crash between its record and its index entry: indexed now, before it is answered.
      if (previous.status === 'captured') await this.index(previous.reservationId);
      return settledCharge(previous);
    }
    if (this.options.latencyMs) await sleep(this.options.latencyMs);
    await this.options.beforeRecord?.(request.reservationId);
    const recorded = await this.recordFirst({
      reservationId: request.reservationId,
      status: this.decide(request.token),
      amountCents: request.amountCents,
      reference: `ch_${request.reservationId}`,
      lines: request.lines,
      ...(request.userId === undefined ? {} : { userId: request.userId }),
      ...(request.orderId === undefined ? {} : { orderId: request.orderId }),
    });
    if (request.token === 'tok_timeout') {
      await sleep(timeoutMs);
      return { status: 'timeout' };
    }
    return settledCharge(recorded);
  }

  async lookup(reservationId: string): Promise<ChargeRecord | null> {
    const text = await readIfExists(this.pathOf(reservationId, 'charge'));
    if (text === null) return null;
    const refunded = (await readIfExists(this.pathOf(reservationId, 'refund'))) !== null;
    return { ...(JSON.parse(text) as StoredRecord), refunded };
  }

  /**
   * Every charge record the provider keeps (captured, declined, voided; with
   * whether it was refunded), in no particular order: the reconciler's view of
   * the money side, as a real provider's list of charges would give it.
   */
  async *charges(): AsyncGenerator<ChargeRecord> {
    for (const bucket of await readdirIfExists(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(bucket)) continue;
      for (const name of await readdirIfExists(join(this.dir, bucket))) {
        if (!/^[0-9a-f]{40}\.json$/.test(name)) continue; // refunds and temporary files are read with their charge
        const text = await readIfExists(join(this.dir, bucket, name));
        if (text === null) continue;
        const record = JSON.parse(text) as StoredRecord;
        yield { ...record, refunded: (await readIfExists(this.pathOf(record.reservationId, 'refund'))) !== null };
      }
    }
  }

  /**
   * The captures recorded at or after sinceMs (and the others of that minute; a capture answered again
   * later may come twice, once per minute it was indexed in, and is yielded once), from the minute index.
   */
  async *capturedSince(sinceMs: number): AsyncGenerator<ChargeRecord> {
    const root = join(this.dir, indexDir);
    const first = minuteOf(sinceMs);
    const seen = new Set<string>();
    const minutes = (await readdirIfExists(root)).filter((m) => /^\d+$/.test(m)).map(Number).sort((a, b) => a - b);
    const expired = minuteOf(Date.now() - indexKeepMs);
    for (const minute of minutes) {
      if (minute < expired) void rm(join(root, String(minute)), { recursive: true, force: true }).catch(() => {});
      if (minute < first) continue;
      for (const name of await readdirIfExists(join(root, String(minute)))) {
        if (!/^[0-9a-f]{40}\.json$/.test(name)) continue;
        const text = await readIfExists(join(root, String(minute), name));
        if (text === null) continue;
        const record = JSON.parse(text) as StoredRecord;
        if (seen.has(record.reservationId)) continue;
        seen.add(record.reservationId);
        yield { ...record, refunded: (await readIfExists(this.pathOf(record.reservationId, 'refund'))) !== null };
      }
    }
  }

  async void(reservationId: string): Promise<ChargeRecord> {
    const voided: StoredRecord = { reservationId, status: 'voided', amountCents: 0, reference: `void_${reservationId}`, lines: [] };
    if (this.options.ignoreVoids) return (await this.lookup(reservationId)) ?? { ...voided, refunded: false };
    return this.recordFirst(voided);
  }

  async refund(reservationId: string): Promise<{ record: ChargeRecord; refundedNow: boolean }> {
    const record = await this.lookup(reservationId);
    if (record?.status !== 'captured') throw new Error(`no capture of ${reservationId} to refund`);
    const refund = { reservationId, amountCents: record.amountCents, reference: `re_${reservationId}` };
    const refundedNow = await writeOnce(this.pathOf(reservationId, 'refund'), JSON.stringify(refund));
    return { record: { ...record, refunded: true }, refundedNow };
  }

  /** Writes the record unless one stands (a capture indexed by its minute too); answers the one that stands. */
  private async recordFirst(record: StoredRecord): Promise<ChargeRecord> {
    if (await writeOnce(this.pathOf(record.reservationId, 'charge'), JSON.stringify(record))) {
      if (record.status === 'captured') await this.index(record.reservationId);
      return { ...record, refunded: false };
    }
    const standing = (await this.lookup(record.reservationId))!;
    if (standing.status === 'captured') await this.index(record.reservationId);
    return standing;
  }

  /** A capture's entry in the minute index (a second name of its record): what capturedSince reads. */
  private index(reservationId: string): Promise<void> {
    const record = this.pathOf(reservationId, 'charge');
    return linkOnce(record, join(this.dir, indexDir, String(minuteOf(Date.now())), basename(record)));
  }

  private pathOf(reservationId: string, kind: 'charge' | 'refund'): string {
    const digest = createHash('sha1').update(reservationId).digest('hex');
    return join(this.dir, digest.slice(0, 2), kind === 'charge' ? `${digest}.json` : `${digest}.refund.json`);
  }

  private decide(token: string): 'captured' | 'declined' {
    if (token !== 'tok_ok' && token !== 'tok_timeout') return 'declined';
    if (token === 'tok_ok' && this.options.failureRate && Math.random() < this.options.failureRate) return 'declined';
    return 'captured';
  }
}

