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

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'stockade_' });
  }

  observe(route: string, status: number, seconds: number): void {
    this.requests.inc({ route, status });
    this.latency.observe({ route, outcome: status < 400 ? 'ok' : status < 500 ? 'client_error' : 'server_error' }, seconds);
  }
}
