import type { Cluster, Redis } from 'ioredis';
import { armCrashPoints } from '../common/crash-points.ts';
import type { ApiDeps } from '../api/deps.ts';
import { ApiMetrics } from '../api/metrics.ts';
import { RateLimiter } from '../api/ratelimit.ts';
import { ReadinessMonitor } from '../api/readiness.ts';
import { createValidators } from '../api/schemas.ts';
import { apiSettings, paymentSettings, serviceSettings, type ApiSettings } from '../settings/views.ts';
import { type EngineSettings, Checkout, Engine, OverdueRecovery, type FaultHooks, createLogger, fulfilsWithin, type Logger } from '../engine/index.ts';
import { SimulatedProvider, type SimulatedProviderOptions } from '../payments/simulated.ts';
import { connectDb, type Sql } from '../store/db.ts';
import { recordView } from '../store/marks.ts';
import { migrate } from '../store/migrate.ts';
import { join } from 'node:path';
import { defaultDataDir } from '../services/local.ts';
import { connectRedis } from './redis.ts';

export interface RuntimeOptions {
  redisUrl: string;
  databaseUrl: string;
  env?: NodeJS.ProcessEnv;
  engine?: Partial<EngineSettings>;
  api?: Partial<ApiSettings>;
  log?: Logger;
  /** Where the simulated payment provider keeps its records (default: STOCKADE_PROVIDER_DIR, else <data dir>/provider). */
  providerDir?: string;
  /** The simulated provider's behaviour beyond the settings (tests: a provider that ignores voids). */
  provider?: Partial<SimulatedProviderOptions>;
  /** Test-only fault hooks (engine/faults.ts). */
  faults?: FaultHooks;
  /** What this process does: 'workers' serves no HTTP, so it needs no bearer tokens. Default: 'api'. */
  role?: 'api' | 'workers';
}

function providerDir(env: NodeJS.ProcessEnv): string {
  return paymentSettings(env).providerDir ?? join(defaultDataDir(env), 'provider');
}

export interface Runtime {
  engine: Engine;
  redis: Redis | Cluster;
  sql: Sql;
  provider: SimulatedProvider;
  checkout: Checkout;
  /** Finishes payments nobody finished (run by the `overdue` sweep, workers/sweeps.ts). */
  recovery: OverdueRecovery;
  settings: ApiSettings;
  log: Logger;
  apiDeps(): ApiDeps;
  close(): Promise<void>;
}

/**
 * The composition root: one Redis client, the engine, PostgreSQL (migrated),
 * the payment provider and the checkout saga. Every process role builds on it.
 */
/** How long closing waits for Redis to answer QUIT before it cuts the connection. */
const quitWaitMs = 2_000;
/** How long a start waits for the first fencing check (granting calls wait for it in any case). */
const fenceCheckWaitMs = 5_000;

export async function createRuntime(o: RuntimeOptions): Promise<Runtime> {
  const env = o.env ?? process.env;
  const settings = { ...apiSettings(env, { servesHttp: (o.role ?? 'api') === 'api' }), ...o.api };
  const log = o.log ?? createLogger('stockade');
  armCrashPoints(settings.crashPoints);
  if (settings.crashPoints.size > 0) log.warn({ crashPoints: Object.fromEntries(settings.crashPoints) }, 'crash points armed (fault harness): this process will SIGKILL itself at them');
  const redis = await connectRedis(o.redisUrl, 'stockade', serviceSettings(env).redisCluster);
  const sql = connectDb(o.databaseUrl);
  try {
    await migrate(sql);
    const engine = Engine.create(redis, o.engine, env, o.faults);
    if (engine.onCluster) void logPartitionsPerMaster(engine, log);
    engine.onFenced((partition, reason) => log.error({ partition, reason }, 'partition fenced: Redis may be behind PostgreSQL; run `stockade reconcile repair` or `reconcile rebuild`'));
    const provider = await SimulatedProvider.create(o.providerDir ?? providerDir(env),
      { latencyMs: settings.paymentLatencyMs, failureRate: settings.paymentFailureRate, ...o.provider });
    // Fencing: every partition checked against PostgreSQL (and, after a restart of redis-server, against the provider's
    // recent captures) before it grants anything (a Redis away now is checked when it is ready).
    await fulfilsWithin(engine.useRecord(recordView(sql), provider), fenceCheckWaitMs);
    const checkout = new Checkout(engine, provider, settings.paymentTimeoutMs, log);
    const metrics = new ApiMetrics();
    const limiter = new RateLimiter(engine, settings.rateLimitTokenPerSec, settings.rateLimitUserPerSec);
    const readiness = new ReadinessMonitor({ engine, redis, sql }, settings.readinessRefreshMs);
    return {
      engine, redis, sql, provider, checkout, recovery: new OverdueRecovery(engine, checkout, log), settings, log,
      apiDeps: () => ({ engine, checkout, redis, sql, settings, limiter, metrics, readiness, log, validators: createValidators(engine.settings) }),
      close: async () => {
        readiness.stop();
        await engine.close();
        // Bounded: a QUIT that gets no answer (a Redis that restarted under the client) is cut after quitWaitMs.
        const quit = fulfilsWithin(redis.quit(), quitWaitMs).then((done) => { if (!done) redis.disconnect(); });
        await Promise.allSettled([quit, sql.end({ timeout: 5 })]);
      },
    };
  } catch (error) {
    redis.disconnect();
    await sql.end({ timeout: 1 });
    throw error;
  }
}

/** On Redis Cluster: how the partitions spread over the masters, and a warning when a master holds none (it takes no load). */
async function logPartitionsPerMaster(engine: Engine, log: Logger): Promise<void> {
  const counts = await engine.partitionsPerMaster().catch((error: unknown) => { log.warn({ err: error }, 'Redis Cluster: could not read the slot map'); return null; });
  if (!counts) return;
  const byMaster = Object.fromEntries(counts);
  log.info({ partitions_per_master: byMaster }, 'Redis Cluster: partitions per master');
  const idle = [...counts].filter(([, n]) => n === 0).map(([master]) => master);
  if (idle.length > 0) log.warn({ masters: idle }, 'Redis Cluster: these masters hold no partition (raise STOCKADE_PARTITIONS, or reshard)');
}
