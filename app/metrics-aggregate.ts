import cluster, { type Worker } from 'node:cluster';
import type { ApiDeps } from '../api/deps.ts';
import { assembleScrape, type MetricsJson } from '../api/metrics.ts';
import { StockadeError, type Logger } from '../engine/index.ts';
import type { WriteThrough } from '../workers/writethrough.ts';

/**
 * One scrape of GET /metrics shows the whole stack. Each process keeps its own
 * prom-client registry; with several API processes (node:cluster) the scrape
 * lands on one of them (uWS shares the port), which asks the primary over the
 * cluster's IPC channel; the primary asks every API process for its metrics
 * (as JSON), adds its own (the sweeps, the overdue recovery, write-through)
 * and what Redis holds, sums them (prom-client's AggregatorRegistry.aggregate)
 * and sends the text back. An API process that does not answer within
 * collectWaitMs is left out, and the scrape says so
 * (stockade_metrics_processes{state="missing"}).
 */
const collectWaitMs = 2_000;
/** How long an API process waits for the primary's scrape before answering 503. */
const scrapeWaitMs = 10_000;

const SCRAPE = 'stockade:metrics:scrape'; // API process -> primary: assemble a scrape
const SCRAPED = 'stockade:metrics:scraped'; // primary -> API process: its text, or why not
const COLLECT = 'stockade:metrics:collect'; // primary -> API process: this process's metrics, please
const COLLECTED = 'stockade:metrics:collected'; // API process -> primary: its metrics as JSON

type Message =
  | { type: typeof SCRAPE | typeof COLLECT; id: number }
  | { type: typeof SCRAPED; id: number; text?: string; error?: string }
  | { type: typeof COLLECTED; id: number; metrics?: MetricsJson };

/**
 * Wires this process's metrics into the stack's scrape: write-through's (run
 * here) into this process's; and, with several API processes, the cluster's:
 * the primary assembles, each API process answers and asks.
 */
export function wireMetrics(deps: ApiDeps, o: { log: Logger; writeThrough?: WriteThrough; processes?: number }): void {
  if (o.writeThrough) deps.metrics.include(o.writeThrough.metrics.registry);
  if (cluster.isWorker) joinClusterMetrics(deps);
  else if ((o.processes ?? 1) > 1) serveClusterMetrics(deps, o.log);
}

/** Primary: assembles the scrapes the API processes ask for. */
function serveClusterMetrics(deps: ApiDeps, log: Logger): void {
  const answers = new Replies<MetricsJson | null>();
  const collect = (worker: Worker) => answers.ask(collectWaitMs, () => null, (id, done) => {
    worker.send({ type: COLLECT, id } satisfies Message, undefined, undefined, (error) => { if (error) done(null); });
  });
  const assemble = async () => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const collected = await Promise.all(workers.map(collect));
    const others = collected.filter((m): m is MetricsJson => m !== null);
    return assembleScrape(deps, others, collected.length - others.length);
  };
  deps.metrics.remote = assemble; // the primary's own scrapes (its ops listener's /metrics) are the stack's too
  cluster.on('message', (worker, message: Message) => {
    if (message?.type === COLLECTED) answers.answer(message.id, message.metrics ?? null);
    if (message?.type !== SCRAPE) return;
    const reply = (m: Message) => { if (worker.isConnected()) worker.send(m, undefined, undefined, () => {}); };
    assemble().then((text) => reply({ type: SCRAPED, id: message.id, text }), (error: unknown) => {
      log.warn({ err: error }, 'assembling the metrics failed');
      reply({ type: SCRAPED, id: message.id, error: (error as Error)?.message ?? String(error) });
    });
  });
}

/** An API process of a cluster: answers the primary with its metrics, and asks it for the stack's scrape. */
function joinClusterMetrics(deps: ApiDeps): void {
  const scrapes = new Replies<{ text?: string; error?: string }>();
  process.on('message', (message: Message) => {
    if (message?.type === SCRAPED) scrapes.answer(message.id, message);
    if (message?.type !== COLLECT) return;
    const send = (m: Message) => process.send?.(m, undefined, undefined, () => {});
    deps.metrics.processJson(deps).then((metrics) => send({ type: COLLECTED, id: message.id, metrics }),
      () => send({ type: COLLECTED, id: message.id }));
  });
  deps.metrics.remote = async () => {
    const got = await scrapes.ask(scrapeWaitMs, () => ({ error: `no answer within ${scrapeWaitMs} ms` }), (id, done) => {
      process.send?.({ type: SCRAPE, id } satisfies Message, undefined, undefined, (error) => { if (error) done({ error: error.message }); });
    });
    if (got.text === undefined) throw new StockadeError('SERVICE_FAILED', `the primary process did not assemble the metrics: ${got.error}`);
    return got.text;
  };
}

/** Requests over IPC by id: each settles with its answer, or with `late()` after waitMs. */
class Replies<T> {
  private seq = 0;
  private readonly waiting = new Map<number, (value: T) => void>();

  ask(waitMs: number, late: () => T, send: (id: number, done: (value: T) => void) => void): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve) => {
      const timer = setTimeout(() => done(late()), waitMs);
      const done = (value: T) => {
        if (!this.waiting.delete(id)) return;
        clearTimeout(timer);
        resolve(value);
      };
      this.waiting.set(id, done);
      send(id, done);
    });
  }

  answer(id: number, value: T): void {
    this.waiting.get(id)?.(value);
  }
}
