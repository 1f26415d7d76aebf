import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ChargeRecord, ChargeRequest, ChargeResult, PaymentProvider } from '../engine/payments.ts';

export interface SimulatedProviderOptions {
  /** Added to every charge, to model a real provider's latency. */
  latencyMs?: number;
  /** Share of tok_ok charges declined at random (0..1), for benchmarks. */
  failureRate?: number;
}

/**
 * The built-in simulated provider. Tokens: `tok_ok` captures, `tok_declined`
 * declines, `tok_timeout` captures but does not answer within the timeout (the
 * answer is lost, as a dropped connection would lose it); anything else declines.
 *
 * Like a real provider it keeps its own durable record of every charge, outside
 * Stockade's Redis and PostgreSQL (so it survives either losing data or being
 * down): one file per charge under its directory, created exclusively and
 * fsynced, keyed by the reservation id. The first charge of a reservation wins;
 * charging it again answers that first outcome at once, from any process;
 * `lookup` tells what became of a charge.
 */
export class SimulatedProvider implements PaymentProvider {
  private constructor(private readonly dir: string, private readonly options: SimulatedProviderOptions) {}

  static async create(dir: string, options: SimulatedProviderOptions = {}): Promise<SimulatedProvider> {
    await mkdir(dir, { recursive: true });
    return new SimulatedProvider(dir, options);
  }

  async charge(request: ChargeRequest, timeoutMs: number): Promise<ChargeResult> {
    const previous = await this.lookup(request.reservationId);
    if (previous) return resultOf(previous);
    if (this.options.latencyMs) await sleep(this.options.latencyMs);
    const record: ChargeRecord = {
      reservationId: request.reservationId,
      status: this.decide(request.token),
      amountCents: request.amountCents,
      reference: `ch_${request.reservationId}`,
      lines: request.lines,
    };
    const recorded = (await this.record(record)) ?? (await this.lookup(request.reservationId))!;
    if (request.token === 'tok_timeout') {
      await sleep(timeoutMs);
      return { status: 'timeout' };
    }
    return resultOf(recorded);
  }

  async lookup(reservationId: string): Promise<ChargeRecord | null> {
    try {
      return JSON.parse(await readFile(this.pathOf(reservationId), 'utf8')) as ChargeRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /**
   * Writes the record unless one exists (then null). The record is written and
   * fsynced under a temporary name, then hard-linked to its final name: link()
   * fails when the name exists, so the first writer wins, and a reader never
   * sees a partial record.
   */
  private async record(record: ChargeRecord): Promise<ChargeRecord | null> {
    const path = this.pathOf(record.reservationId);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, path);
      return record;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw error;
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  private pathOf(reservationId: string): string {
    const digest = createHash('sha1').update(reservationId).digest('hex');
    return join(this.dir, digest.slice(0, 2), `${digest}.json`);
  }

  private decide(token: string): 'captured' | 'declined' {
    if (token !== 'tok_ok' && token !== 'tok_timeout') return 'declined';
    if (token === 'tok_ok' && this.options.failureRate && Math.random() < this.options.failureRate) return 'declined';
    return 'captured';
  }
}

function resultOf(record: ChargeRecord): ChargeResult {
  return record.status === 'captured'
    ? { status: 'captured', reference: record.reference, amountCents: record.amountCents }
    : { status: 'declined', reason: 'card_declined' };
}

