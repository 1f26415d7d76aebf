import client from 'prom-client';
import type { DecodedEntry } from '../engine/index.ts';
import type { WriteThroughStats } from './writethrough.ts';

/** From a second (a quiet stack) to half an hour (PostgreSQL away, an entry parked and retried). */
const lagBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/**
 * Write-through's metrics, in a registry of their own: the process that runs
 * the workers adds it to what it reports (GET /metrics sums it over the stack).
 */
export class WriteThroughMetrics {
  readonly registry = new client.Registry();
  readonly lag = new client.Histogram({
    name: 'stockade_writethrough_lag_seconds',
    help: 'from an order\'s commit in Redis (its outbox event\'s at, the scripts\' clock) to its rows committed in PostgreSQL',
    buckets: lagBuckets, registers: [this.registry],
  });

  constructor(stats: WriteThroughStats) {
    new client.Counter({
      name: 'stockade_writethrough_entries_total', help: 'outbox entries written through, parked (failed for good), and written after being parked',
      labelNames: ['outcome'] as const, registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'written' }, stats.written);
        this.inc({ outcome: 'parked' }, stats.parked);
        this.inc({ outcome: 'unparked' }, stats.unparked);
      },
    });
    new client.Counter({
      name: 'stockade_writethrough_failures_total', help: 'failed drain attempts (each is retried)', registers: [this.registry],
      collect() {
        this.reset();
        this.inc(stats.failures);
      },
    });
  }

  /** Observes the lag of the order events among entries just written; `clockMs` reads the clock their `at` came from. */
  async observeWritten(entries: DecodedEntry[], clockMs: () => Promise<number>): Promise<void> {
    const ats = entries.flatMap((e) => (e.event?.t === 'order' ? [e.event.at] : []));
    if (ats.length === 0) return;
    const now = await clockMs().catch(() => null);
    if (now === null) return; // Redis away: the rows are written; this batch's lag goes unobserved
    for (const at of ats) this.lag.observe(Math.max(0, now - at) / 1000);
  }
}
