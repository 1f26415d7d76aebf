import client from 'prom-client';

/** Prometheus metrics of one API process (GET /metrics). */
export class ApiMetrics {
  readonly registry = new client.Registry();
  readonly requests = new client.Counter({
    name: 'stockade_http_requests_total', help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const, registers: [this.registry],
  });
  readonly latency = new client.Histogram({
    name: 'stockade_http_request_duration_seconds', help: 'HTTP request latency by route and outcome',
    labelNames: ['route', 'outcome'] as const, registers: [this.registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  readonly batchSize = new client.Histogram({
    name: 'stockade_reserve_batch_size', help: 'requests per reserve script call (group commit)',
    registers: [this.registry], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  });
  readonly stock = new client.Gauge({
    name: 'stockade_stock_units', help: 'units per SKU and state (first 1,000 SKUs of the catalog)',
    labelNames: ['sku', 'state'] as const, registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'stockade_queue_depth', help: 'requests queued or in flight in the batchers, and outbox entries not yet written through',
    labelNames: ['queue'] as const, registers: [this.registry],
  });
  readonly outboxParked = new client.Gauge({
    name: 'stockade_outbox_parked_entries', help: 'outbox entries that failed for good and wait in the parked streams for their next retry',
    registers: [this.registry],
  });

  readonly refunds = new client.Counter({
    name: 'stockade_payments_refunded_total', help: 'captures that landed on a released hold (a provider that ignored the void) and were refunded, by this process',
    registers: [this.registry],
  });
  readonly voids = new client.Counter({
    name: 'stockade_payments_voided_total', help: 'overdue payments voided at the provider before any capture, by this process',
    registers: [this.registry],
  });
  readonly redisMemory = new client.Gauge({
    name: 'stockade_redis_memory_bytes', help: 'Redis memory: used, and maxmemory (the watermark applies to it)',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly memoryOverloaded = new client.Gauge({
    name: 'stockade_redis_memory_overloaded', help: '1 while Redis memory is past the high watermark (new holds refused)',
    registers: [this.registry],
  });
  private seen = { refunded: 0, voided: 0 };

  observeMemory(m: { usedBytes: number; maxBytes: number; overloaded: boolean }): void {
    this.redisMemory.set({ kind: 'used' }, m.usedBytes);
    this.redisMemory.set({ kind: 'max' }, m.maxBytes);
    this.memoryOverloaded.set(m.overloaded ? 1 : 0);
  }

  /** Carries the checkout's counts over to the counters (read at scrape time). */
  observeCheckout(stats: { refunded: number; voided: number }): void {
    this.refunds.inc(stats.refunded - this.seen.refunded);
    this.voids.inc(stats.voided - this.seen.voided);
    this.seen = { ...stats };
  }

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'stockade_' });
  }

  observe(route: string, status: number, seconds: number): void {
    this.requests.inc({ route, status });
    this.latency.observe({ route, outcome: status < 400 ? 'ok' : status < 500 ? 'client_error' : 'server_error' }, seconds);
  }
}
