import type { Cluster, Redis } from 'ioredis';
import type { Checkout, Engine, Logger } from '../engine/index.ts';
import type { Sql } from '../store/db.ts';
import type { ApiSettings } from '../settings/views.ts';
import type { ApiMetrics } from './metrics.ts';
import type { RateLimiter } from './ratelimit.ts';
import type { ReadinessMonitor } from './readiness.ts';
import type { Validators } from './schemas.ts';

/** What the routes use. */
export interface ApiDeps {
  engine: Engine;
  checkout: Checkout;
  redis: Redis | Cluster;
  sql: Sql;
  settings: ApiSettings;
  limiter: RateLimiter;
  metrics: ApiMetrics;
  /** This process's readiness, refreshed in the background (what /readyz and /metrics read). */
  readiness: ReadinessMonitor;
  log: Logger;
  /** Request validators built from the engine's settings (TTL bounds, cart lines, qty). */
  validators: Validators;
}
