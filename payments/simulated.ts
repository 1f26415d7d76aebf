import type { ChargeRecord, ChargeRequest, ChargeResult, PaymentProvider } from '../engine/payments.ts';
import type { Line } from '../engine/records.ts';
import type { Sql } from '../store/db.ts';

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
 * It keeps its own durable record of every charge in PostgreSQL (schema
 * sim_provider, apart from Stockade's tables and outside Redis), keyed by the
 * reservation id: a second charge of a reservation answers the first outcome
 * at once, and `lookup` tells what became of a charge.
 */
export class SimulatedProvider implements PaymentProvider {
  constructor(private readonly sql: Sql, private readonly options: SimulatedProviderOptions = {}) {}

  static async create(sql: Sql, options: SimulatedProviderOptions = {}): Promise<SimulatedProvider> {
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(7311202)`;
      await tx`create schema if not exists sim_provider`;
      await tx`create table if not exists sim_provider.charges (
        reservation_id text primary key,
        status         text not null check (status in ('captured', 'declined')),
        amount_cents   bigint not null,
        reference      text not null,
        lines          jsonb not null,
        created_at     timestamptz not null default now())`;
    });
    return new SimulatedProvider(sql, options);
  }

  async charge(request: ChargeRequest, timeoutMs: number): Promise<ChargeResult> {
    const previous = await this.lookup(request.reservationId);
    if (previous) return resultOf(previous);
    if (this.options.latencyMs) await sleep(this.options.latencyMs);
    const status = this.decide(request.token);
    const reference = `ch_${request.reservationId}`;
    await this.sql`insert into sim_provider.charges (reservation_id, status, amount_cents, reference, lines)
      values (${request.reservationId}, ${status}, ${request.amountCents}, ${reference}, ${this.sql.json(linesJson(request.lines))})
      on conflict (reservation_id) do nothing`;
    const recorded = (await this.lookup(request.reservationId))!;
    if (request.token === 'tok_timeout') {
      await sleep(timeoutMs);
      return { status: 'timeout' };
    }
    return resultOf(recorded);
  }

  async lookup(reservationId: string): Promise<ChargeRecord | null> {
    const [row] = await this.sql`select reservation_id, status, amount_cents, reference, lines
      from sim_provider.charges where reservation_id = ${reservationId}`;
    if (!row) return null;
    return {
      reservationId: row.reservation_id as string,
      status: row.status as 'captured' | 'declined',
      amountCents: row.amount_cents as number,
      reference: row.reference as string,
      lines: (row.lines as { sku: string; qty: number; price_cents: number }[]).map((l) => ({ sku: l.sku, qty: l.qty, priceCents: l.price_cents })),
    };
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

function linesJson(lines: Line[]) {
  return lines.map((l) => ({ sku: l.sku, qty: l.qty, price_cents: l.priceCents }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
