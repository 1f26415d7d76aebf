import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.ts';
import type { ApiRequest } from '../http.ts';
import { metricsContentType, scrapeMetrics } from '../metrics.ts';
import { readinessView } from '../readiness.ts';
import type { Route } from '../router.ts';
import { Health, Readiness } from '../schemas.ts';

const health = (): Route => ({
  method: 'get', pattern: '/healthz', operationId: 'getHealth', summary: 'Liveness: the process is up and serving', tag: 'operations',
  access: 'public', responses: { 200: { description: 'up', schema: Health } }, handler: async () => ({ status: 200, body: { status: 'ok' } }),
});

/** /readyz from the state refreshed in the background (api/readiness.ts): a call does no Redis or SQL work. */
const readyz = (d: ApiDeps, detail: (req: ApiRequest) => boolean): Route => ({
  method: 'get', pattern: '/readyz', operationId: 'getReadiness', tag: 'operations', access: 'public',
  summary: 'Readiness: 200 while this process can hold and confirm (status ready or degraded), 503 when it cannot; the detail for the admin token only. '
    + 'Answered from checks each process makes in the background (STOCKADE_READINESS_REFRESH_MS), so it may lag a change by that long',
  responses: {
    200: { description: 'ready, or degraded (PostgreSQL down, write-through behind, parked entries): holds and confirms work', schema: Readiness },
    503: { description: 'not ready: Redis unreachable, fenced, or Redis memory past its watermark', schema: Readiness, headers: ['Retry-After'] },
  },
  handler: async (req) => {
    const r = await d.readiness.current();
    const body = readinessView(r, detail(req));
    return r.status === 'not_ready' ? { status: 503, body, headers: { 'retry-after': '1' } } : { status: 200, body };
  },
});

const metrics = (d: ApiDeps, access: Route['access']): Route => ({
  method: 'get', pattern: '/metrics', operationId: 'getMetrics', summary: 'Prometheus metrics', tag: 'operations', access,
  responses: { 200: { description: 'Prometheus text', contentType: metricsContentType } },
  handler: async () => ({ status: 200, body: await scrapeMetrics(d), raw: true, contentType: metricsContentType }),
});

/** Liveness, readiness (can this process hold and confirm; what is degraded), metrics and the OpenAPI document (built from every route). */
export function opsRoutes(d: ApiDeps, openApiDocument: () => unknown): Route[] {
  return [
    health(),
    readyz(d, (req) => req.role === 'admin'),
    metrics(d, 'admin'),
    { method: 'get', pattern: '/openapi.json', operationId: 'getOpenApi', summary: 'This document', tag: 'operations', access: 'public',
      responses: { 200: { description: 'the OpenAPI 3.1 document', schema: Type.Object({}, { additionalProperties: true }) } },
      handler: async () => ({ status: 200, body: openApiDocument() }) },
  ];
}

/**
 * The ops listener's routes (STOCKADE_OPS_PORT): liveness, readiness with its
 * detail, metrics; no token. It is the operator's listener, on loopback by
 * default (STOCKADE_OPS_HOST), for the orchestrator's probes and the scraper.
 */
export function opsListenerRoutes(d: ApiDeps): Route[] {
  return [health(), readyz(d, () => true), metrics(d, 'public')];
}
