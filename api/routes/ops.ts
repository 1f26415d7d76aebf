import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps.ts';
import { metricsContentType, scrapeMetrics } from '../metrics.ts';
import { readiness, readinessView } from '../readiness.ts';
import type { Route } from '../router.ts';
import { Health, Readiness } from '../schemas.ts';

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
      responses: { 200: { description: 'Prometheus text', contentType: metricsContentType } }, handler: async () => {
      return { status: 200, body: await scrapeMetrics(d), raw: true, contentType: metricsContentType };
    } },
    { method: 'get', pattern: '/openapi.json', operationId: 'getOpenApi', summary: 'This document', tag: 'operations', access: 'public',
      responses: { 200: { description: 'the OpenAPI 3.1 document', schema: Type.Object({}, { additionalProperties: true }) } },
      handler: async () => ({ status: 200, body: openApiDocument() }) },
  ];
}
