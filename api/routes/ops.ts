import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.ts';
import { readiness, readinessView } from '../readiness.ts';
import type { Route } from '../router.ts';
import { Health, Readiness } from '../schemas.ts';

const stockGaugeSkusMax = 1_000;

/** Liveness, readiness (can this process hold and confirm; what is degraded), metrics and the OpenAPI document (built from every route). */
export function opsRoutes(d: ApiDeps, openApiDocument: () => unknown): Route[] {
  return [
    { method: 'get', pattern: '/healthz', operationId: 'getHealth', summary: 'Liveness: the process is up and serving', tag: 'operations',
      access: 'public', responses: { 200: { description: 'up', schema: Health } }, handler: async () => ({ status: 200, body: { status: 'ok' } }) },
    { method: 'get', pattern: '/readyz', operationId: 'getReadiness', tag: 'operations', access: 'public',
      summary: 'Readiness: 200 while this process can hold and confirm (status ready or degraded), 503 when it cannot; the detail for the admin token only',
      responses: {
        200: { description: 'ready, or degraded (PostgreSQL down, write-through behind, parked entries): holds and confirms work', schema: Readiness },
        503: { description: 'not ready: Redis unreachable, fenced, or Redis memory past its watermark', schema: Readiness, headers: ['Retry-After'] },
      },
      handler: async (req) => {
        const r = await readiness(d);
        const body = readinessView(r, req.role === 'admin');
        return r.status === 'not_ready' ? { status: 503, body, headers: { 'retry-after': '1' } } : { status: 200, body };
      } },
    { method: 'get', pattern: '/metrics', operationId: 'getMetrics', summary: 'Prometheus metrics', tag: 'operations', access: 'admin',
      responses: { 200: { description: 'Prometheus text', contentType: d.metrics.registry.contentType } }, handler: async () => {
      await collectGauges(d);
      return { status: 200, body: await d.metrics.registry.metrics(), raw: true, contentType: d.metrics.registry.contentType };
    } },
    { method: 'get', pattern: '/openapi.json', operationId: 'getOpenApi', summary: 'This document', tag: 'operations', access: 'public',
      responses: { 200: { description: 'the OpenAPI 3.1 document', schema: Type.Object({}, { additionalProperties: true }) } },
      handler: async () => ({ status: 200, body: openApiDocument() }) },
  ];
}

/** Stock per SKU (the first 1,000 of the catalog), queue depths and parked outbox entries, read when scraped. */
async function collectGauges(d: ApiDeps): Promise<void> {
  d.metrics.stock.reset();
  let next: string | null = null;
  let seen = 0;
  do {
    const page: Awaited<ReturnType<typeof d.engine.listProducts>> = await d.engine.listProducts(next, 100);
    for (const p of page.items) {
      for (const [state, units] of Object.entries(p.stock)) d.metrics.stock.set({ sku: p.sku, state }, units);
    }
    seen += page.items.length;
    next = page.next;
  } while (next && seen < stockGaugeSkusMax);
  const depths = d.engine.queueDepths();
  d.metrics.queueDepth.set({ queue: 'reserve_batches' }, depths.reserveBatches);
  d.metrics.queueDepth.set({ queue: 'key_claims' }, depths.keyClaims);
  const [backlog, parked] = await Promise.all([d.engine.outbox.backlog(), d.engine.outbox.parked()]);
  d.metrics.queueDepth.set({ queue: 'outbox' }, backlog);
  d.metrics.outboxParked.set(parked);
  for (const size of d.engine.takeBatchSizes()) d.metrics.batchSize.observe(size);
  d.metrics.observeCheckout(d.checkout.stats);
  d.metrics.observeMemory(await d.engine.memory(true));
}
