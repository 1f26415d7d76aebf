import client from 'prom-client';
import { summaryDriftMax, type VerifySummary } from '../reconciler/verify.ts';
import type { CheckoutStats, Engine, StockadeError } from '../engine/index.ts';
import type { ConnectionCount } from './connections.ts';
import type { ApiDeps } from './deps.ts';
import type { ProblemSlug, Reply } from './problems.ts';
import { readinessReasons, type Readiness } from './readiness.ts';

/**
 * GET /metrics shows the whole stack in one scrape. Each process keeps its own
 * metrics (ApiMetrics: HTTP, batching, payments; write-through's in the
 * process that runs it), summed over the processes; what lives in Redis
 * (stock, outbox, holds by state, expiries, memory) is read once per scrape
 * by the process that assembles it (stackMetrics). With several API processes
 * the primary assembles it (app/metrics-aggregate.ts); else the process asked.
 */
export type MetricsJson = client.MetricObjectWithValues<client.MetricValue<string>>[];

export const metricsContentType = client.Registry.PROMETHEUS_CONTENT_TYPE;

/** Stock gauges cover the catalog's first SKUs only (a catalog may be large; each SKU is four series). */
const stockGaugeSkusMax = 1_000;
/** Per-partition outbox series: the longest non-empty partitions only (STOCKADE_PARTITIONS may be 4,096). */
export const outboxPartitionSeriesMax = 64;

const queueDepthHelp = 'requests queued or in flight in the batchers, and outbox entries not yet written through';

/** The problems that refuse a request, by the reason they are counted under. */
const refusalReasons: Partial<Record<string, string>> = Object.fromEntries(Object.entries({
  'out-of-stock': 'out_of_stock', 'per-user-limit': 'per_user_limit', 'unknown-sku': 'unknown_sku',
  'idempotency-key-reused': 'key_reused', overloaded: 'overloaded', 'rate-limited': 'rate_limited', unavailable: 'unavailable', fenced: 'fenced',
} satisfies Partial<Record<ProblemSlug, string>>).map(([slug, reason]) => [`/problems/${slug}`, reason]));

/** Prometheus metrics of one process (summed over the processes of the stack). */
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
  readonly refusals = new client.Counter({
    name: 'stockade_refusals_total', help: 'requests refused, by reason (a replayed refusal is not counted again)',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  readonly batchSize = new client.Histogram({
    name: 'stockade_reserve_batch_size', help: 'requests per reserve script call (group commit)',
    registers: [this.registry], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  });
  private readonly queueDepth = new client.Gauge({
    name: 'stockade_queue_depth', help: queueDepthHelp, labelNames: ['queue'] as const, registers: [this.registry],
  });
  private readonly payments = new client.Counter({
    name: 'stockade_payments_total', help: 'payment outcomes: captured (an order), declined, voided, refunded, pending (no answer in time)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  private readonly refunds = new client.Counter({
    name: 'stockade_payments_refunded_total', help: 'captures that landed on a released hold (a provider that ignored the void) and were refunded',
    registers: [this.registry],
  });
  private readonly voids = new client.Counter({
    name: 'stockade_payments_voided_total', help: 'overdue payments voided at the provider before any capture',
    registers: [this.registry],
  });
  private readonly connectionsOpen = new client.Gauge({
    name: 'stockade_connections_open', help: 'open HTTP connections, by listener (api, ops)', labelNames: ['listener'] as const, registers: [this.registry],
  });
  private readonly connectionsRefused = new client.Counter({
    name: 'stockade_connections_refused_total', help: 'connections closed as they opened because the listener was at its cap (STOCKADE_CONNECTIONS_MAX)',
    labelNames: ['listener'] as const, registers: [this.registry],
  });
  private readonly connectionCounts: ConnectionCount[] = [];
  private readonly included: client.Registry[] = [];
  /**
   * Set in an API process of a cluster: asks the primary for the whole stack's
   * scrape. Null: this process assembles it.
   */
  remote: (() => Promise<string>) | null = null;

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'stockade_' });
  }

  /** Adds another registry of this process (write-through's) to what the process reports. */
  include(registry: client.Registry): void {
    this.included.push(registry);
  }

  /** A listener's connection counts, reported with this process's metrics. */
  countConnections(count: ConnectionCount): void {
    this.connectionCounts.push(count);
  }

  observe(route: string, reply: Reply, seconds: number): void {
    const status = reply.status;
    this.requests.inc({ route, status });
    this.latency.observe({ route, outcome: status < 400 ? 'ok' : status < 500 ? 'client_error' : 'server_error' }, seconds);
    const reason = reply.problem && !reply.headers?.['idempotent-replayed'] ? refusalReasons[(reply.body as { type: string }).type] : undefined;
    if (reason) this.refusals.inc({ reason });
  }

  /** This process's metrics, as JSON to sum with the other processes': the engine's and the checkout's counts are read first. */
  async processJson(d: { engine: Engine; checkout: { stats: CheckoutStats } }): Promise<MetricsJson> {
    const depths = d.engine.queueDepths();
    this.queueDepth.set({ queue: 'reserve_batches' }, depths.reserveBatches);
    this.queueDepth.set({ queue: 'key_claims' }, depths.keyClaims);
    for (const size of d.engine.takeBatchSizes()) this.batchSize.observe(size);
    const { captured, declined, voided, refunded, pending } = d.checkout.stats;
    this.payments.reset();
    for (const [outcome, count] of Object.entries({ captured, declined, voided, refunded, pending })) this.payments.inc({ outcome }, count);
    setCounter(this.refunds, refunded);
    setCounter(this.voids, voided);
    this.connectionsOpen.reset();
    this.connectionsRefused.reset();
    for (const c of this.connectionCounts) {
      this.connectionsOpen.inc({ listener: c.listener }, c.open);
      this.connectionsRefused.inc({ listener: c.listener }, c.refused);
    }
    const lists = await Promise.all([this.registry, ...this.included].map((r) => r.getMetricsAsJSON()));
    // prom-client leaves start times out of a sum; the stack's is its newest process's (it moves when any restarts).
    return (lists.flat() as MetricsJson).map((m) => (m.name === 'stockade_process_start_time_seconds' ? { ...m, aggregator: 'max' } : m));
  }
}

function setCounter(counter: client.Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}

/**
 * What the stack keeps in Redis, read once per scrape: stock per SKU (the
 * catalog's first 1,000), the outbox (in all, and its longest partitions),
 * parked entries, holds by state and expiries (counted by the scripts), and
 * Redis memory.
 */
export async function stackMetrics(engine: Engine): Promise<MetricsJson> {
  const registry = new client.Registry();
  const registers = [registry];
  const stock = new client.Gauge({ name: 'stockade_stock_units', help: `units per SKU and state (first ${stockGaugeSkusMax} SKUs of the catalog)`,
    labelNames: ['sku', 'state'] as const, registers });
  let next: string | null = null;
  let seen = 0;
  try {
    do {
      const page: Awaited<ReturnType<typeof engine.listProducts>> = await engine.listProducts(next, 100);
      for (const p of page.items) {
        for (const [state, units] of Object.entries(p.stock)) stock.set({ sku: p.sku, state }, units);
      }
      seen += page.items.length;
      next = page.next;
    } while (next && seen < stockGaugeSkusMax);
  } catch (error) {
    // A fenced partition's counts may be behind PostgreSQL: the page stops there (stockade_partition_fenced says which); the scrape goes on.
    if ((error as StockadeError)?.code !== 'FENCED') throw error;
  }

  const [lengths, parked, counts, memory] = await Promise.all([engine.outbox.outboxLengths(), engine.outbox.parked(),
    engine.holdCounts(), engine.memory(true)]);
  new client.Gauge({ name: 'stockade_queue_depth', help: queueDepthHelp, labelNames: ['queue'] as const, registers })
    .set({ queue: 'outbox' }, lengths.reduce((a, b) => a + b, 0));
  const byPartition = new client.Gauge({ name: 'stockade_outbox_entries',
    help: `outbox entries not yet written through, per partition: the ${outboxPartitionSeriesMax} longest non-empty partitions`,
    labelNames: ['partition'] as const, registers });
  const longest = lengths.map((length, partition) => ({ length, partition })).filter((l) => l.length > 0)
    .sort((x, y) => y.length - x.length).slice(0, outboxPartitionSeriesMax);
  for (const { partition, length } of longest) byPartition.set({ partition }, length);
  new client.Gauge({ name: 'stockade_outbox_parked_entries', help: 'outbox entries that failed for good and wait in the parked streams for their next retry',
    registers }).set(parked);

  const holds = new client.Gauge({ name: 'stockade_holds', help: 'live holds by state (counted by the scripts; a cart counts once)',
    labelNames: ['state'] as const, registers });
  for (const [state, count] of Object.entries(counts.live)) holds.set({ state }, Math.max(0, count));
  const expired = new client.Counter({ name: 'stockade_holds_expired_total',
    help: 'holds expired, by who expired them: a reserve call reclaiming due holds, the sweeper, a step on a hold past its deadline',
    labelNames: ['by'] as const, registers });
  for (const [by, count] of Object.entries(counts.expired)) expired.inc({ by }, count);

  const redisMemory = new client.Gauge({ name: 'stockade_redis_memory_bytes', help: 'Redis memory: used, and maxmemory (the watermark applies to it)',
    labelNames: ['kind'] as const, registers });
  redisMemory.set({ kind: 'used' }, memory.usedBytes);
  redisMemory.set({ kind: 'max' }, memory.maxBytes);
  new client.Gauge({ name: 'stockade_redis_memory_overloaded', help: '1 while Redis memory is past the high watermark (new holds refused)',
    registers }).set(memory.overloaded ? 1 : 0);
  return (await registry.getMetricsAsJSON()) as MetricsJson;
}

/** A sweep's counts (engine.sweepStats fields) as counters: field, metric name, help, and the outcome label where one metric has several fields. */
const sweepCounters: Array<{ field: string; name: string; help: string; outcome?: string }> = [
  { field: 'runs', name: 'stockade_sweep_runs_total', help: 'sweep passes run (once per interval across every worker process)' },
  { field: 'skipped', name: 'stockade_sweep_skipped_total', help: 'sweep iterations skipped: the process that took one was still running the previous pass' },
  { field: 'failed', name: 'stockade_sweep_failures_total', help: 'failed sweep passes, and failed steps within passes (a partition, a hold): each is tried again next pass' },
  { field: 'expired', name: 'stockade_sweep_holds_expired_total', help: 'holds expired by the sweeps' },
  { field: 'purged', name: 'stockade_sweep_records_purged_total', help: 'records past retention deleted by the sweeps' },
  ...(['committed', 'released', 'refunded'] as const).map((outcome) => ({ field: outcome, outcome, name: 'stockade_sweep_payments_finished_total',
    help: 'overdue payments finished by the sweeps, by outcome: committed (captured: an order), released (declined or voided), refunded (a capture on a released hold)' })),
];

/** What each sweep did, summed over every pass in every process (kept in Redis: engine.sweepStats), read once per scrape. */
export async function sweepMetrics(engine: Engine): Promise<MetricsJson> {
  const registry = new client.Registry();
  const registers = [registry];
  const counters = new Map<string, client.Counter>();
  const counter = (name: string, help: string, labelNames: string[]) => {
    let c = counters.get(name);
    if (!c) counters.set(name, c = new client.Counter({ name, help, labelNames, registers }));
    return c;
  };
  const seconds = new client.Counter({ name: 'stockade_sweep_seconds_total', help: 'time spent in sweep passes (over runs_total: the mean pass)',
    labelNames: ['sweep'] as const, registers });
  const last = new client.Gauge({ name: 'stockade_sweep_last_duration_seconds', help: 'how long the last pass of each sweep took',
    labelNames: ['sweep'] as const, registers });
  const lastAt = new client.Gauge({ name: 'stockade_sweep_last_run_timestamp_seconds', help: 'when the last pass of each sweep ended (alert when it falls behind)',
    labelNames: ['sweep'] as const, registers });
  for (const [sweep, counts] of Object.entries(await engine.sweepStats())) {
    for (const m of sweepCounters) {
      if (counts[m.field] === undefined && !['runs', 'skipped', 'failed'].includes(m.field)) continue; // a count this sweep does not report
      const c = counter(m.name, m.help, m.outcome ? ['sweep', 'outcome'] : ['sweep']);
      c.inc(m.outcome ? { sweep, outcome: m.outcome } : { sweep }, counts[m.field] ?? 0);
    }
    seconds.inc({ sweep }, (counts.ms ?? 0) / 1000);
    if (counts.last_ms !== undefined) last.set({ sweep }, counts.last_ms / 1000);
    if (counts.last_at !== undefined) lastAt.set({ sweep }, counts.last_at / 1000);
  }
  verifyGauges(parseSummary(await engine.sweepReport('verify')), registers);
  return (await registry.getMetricsAsJSON()) as MetricsJson;
}

function parseSummary(text: string | null): VerifySummary | null {
  try {
    return text === null ? null : (JSON.parse(text) as VerifySummary);
  } catch {
    return null;
  }
}

/** The last periodic verify (the verify sweep's summary): whether every invariant held, violations by kind, the SKUs that drift most. */
function verifyGauges(summary: VerifySummary | null, registers: client.Registry[]): void {
  const ok = new client.Gauge({ name: 'stockade_verify_ok', help: '1 when the last periodic verify found every invariant holding, 0 when not (absent before the first)', registers });
  const byKind = new client.Gauge({ name: 'stockade_verify_violations', help: 'violations the last periodic verify found, by kind (stockade reconcile verify names them)',
    labelNames: ['kind'] as const, registers });
  const drift = new client.Gauge({ name: 'stockade_verify_drift_units', help: `found - expected per SKU whose counts the last verify found wrong (the ${summaryDriftMax} largest), by kind`,
    labelNames: ['sku', 'kind'] as const, registers });
  const at = new client.Gauge({ name: 'stockade_verify_last_run_timestamp_seconds', help: 'when the last periodic verify ended', registers });
  const fenced = new client.Gauge({ name: 'stockade_partition_fenced', help: `1 for each partition the last verify found fenced (it grants nothing until repair or rebuild; the first ${summaryDriftMax}), by reason`,
    labelNames: ['partition', 'reason'] as const, registers });
  if (!summary) return;
  ok.set(summary.ok ? 1 : 0);
  at.set(summary.at / 1000);
  for (const [kind, n] of Object.entries(summary.byKind)) byKind.set({ kind }, n ?? 0);
  for (const d of summary.drift) drift.set({ sku: d.sku, kind: d.kind }, d.units);
  for (const f of summary.fenced ?? []) fenced.set({ partition: String(f.partition), reason: f.reason }, 1);
}

/** Readiness as the assembling process last checked it (the state /readyz answers from: a scrape checks nothing again). */
async function readinessJson(r: Readiness): Promise<MetricsJson> {
  const registry = new client.Registry();
  const status = new client.Gauge({ name: 'stockade_readiness_status', help: 'readiness as /readyz answers it: 1 for the status in force',
    labelNames: ['status'] as const, registers: [registry] });
  for (const s of ['ready', 'degraded', 'not_ready'] as const) status.set({ status: s }, r.status === s ? 1 : 0);
  const reason = new client.Gauge({ name: 'stockade_readiness_reason', help: 'why not ready or degraded: 1 for each reason in force',
    labelNames: ['reason'] as const, registers: [registry] });
  for (const name of Object.keys(readinessReasons)) reason.set({ reason: name }, r.reasons.includes(name as keyof typeof readinessReasons) ? 1 : 0);
  return (await registry.getMetricsAsJSON()) as MetricsJson;
}

/** A scrape's own gauge: the processes whose metrics it holds, and those that did not answer in time. */
async function processesJson(answered: number, missing: number): Promise<MetricsJson> {
  const registry = new client.Registry();
  const gauge = new client.Gauge({ name: 'stockade_metrics_processes', help: 'processes whose metrics this scrape sums, and processes that did not answer in time',
    labelNames: ['state'] as const, registers: [registry] });
  gauge.set({ state: 'answered' }, answered);
  gauge.set({ state: 'missing' }, missing);
  return (await registry.getMetricsAsJSON()) as MetricsJson;
}

/**
 * The whole stack's scrape, assembled here: this process's metrics, the other
 * processes' (`others`, as JSON; `missing` did not answer), and what Redis
 * holds, summed metric by metric (prom-client's cluster aggregation: Node's
 * process metrics by their own rules, e.g. the event loop lag averaged).
 */
export async function assembleScrape(d: ApiDeps, others: MetricsJson[] = [], missing = 0): Promise<string> {
  const lists = await Promise.all([d.metrics.processJson(d), stackMetrics(d.engine), sweepMetrics(d.engine), processesJson(1 + others.length, missing),
    d.readiness.current().then(readinessJson)]);
  return client.AggregatorRegistry.aggregate([...lists, ...others]).metrics();
}

/** GET /metrics: the primary's scrape in an API process of a cluster, else this process's. */
export function scrapeMetrics(d: ApiDeps): Promise<string> {
  return d.metrics.remote ? d.metrics.remote() : assembleScrape(d);
}
