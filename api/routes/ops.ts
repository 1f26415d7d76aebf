import { fulfilsWithin } from '../../engine/index.ts';
import type { ApiDeps } from '../deps.ts';
import { metricsContentType, scrapeMetrics } from '../metrics.ts';
import { openApiDocument } from '../openapi.ts';
import type { Route } from '../router.ts';

/** How long /readyz waits for each store to answer. Not a setting: a probe's own timeout (its caller's) sits above it. */
const readyCheckMs = 1_000;

/** Liveness, readiness (Redis and PostgreSQL reachable; outbox backlog and parked entries), metrics and the OpenAPI document. */
export function opsRoutes(d: ApiDeps): Route[] {
  const document = openApiDocument(d.engine.settings);
  return [
    { method: 'get', pattern: '/healthz', access: 'public', body: false, handler: async () => ({ status: 200, body: { status: 'ok' } }) },
    { method: 'get', pattern: '/readyz', access: 'public', body: false, handler: async () => {
      const [redis, postgres] = await Promise.all([
        fulfilsWithin(d.redis.ping(), readyCheckMs),
        fulfilsWithin(d.sql`select 1`, readyCheckMs),
      ]);
      const checks = { redis: redis ? 'ok' : 'down', postgres: postgres ? 'ok' : 'down' };
      const memory = redis ? await d.engine.memory(true).catch(() => null) : null;
      // Past the memory watermark this process cannot hold: not ready (it still confirms).
      const ready = redis && postgres && !memory?.overloaded;
      const [backlog, parked] = redis
        ? await Promise.all([d.engine.outbox.backlog().catch(() => null), d.engine.outbox.parked().catch(() => null)])
        : [null, null];
      return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', checks, outbox_backlog: backlog, outbox_parked: parked,
        memory: memory && { used_bytes: memory.usedBytes, max_bytes: memory.maxBytes, high_watermark_pct: memory.highWatermarkPct,
          overloaded: memory.overloaded } } };
    } },
    { method: 'get', pattern: '/metrics', access: 'admin', body: false, handler: async () => {
      return { status: 200, body: await scrapeMetrics(d), raw: true, contentType: metricsContentType };
    } },
    { method: 'get', pattern: '/openapi.json', access: 'public', body: false, handler: async () => ({ status: 200, body: document }) },
  ];
}
