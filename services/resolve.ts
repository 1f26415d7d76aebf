import { join } from 'node:path';
import { serviceSettings } from '../settings/views.ts';
import { defaultDataDir, embeddedRedisMasters, embeddedRedisRunning, startLocalServices, stopLocalServices, type ServiceSet } from './local.ts';
import { postgresRunning } from './postgres.ts';

export interface ServiceUrls {
  redisUrl: string;
  databaseUrl: string;
  /** Stops what this call started (nothing when the URLs came from outside or were running already). */
  stop: () => Promise<void>;
  embedded: boolean;
}

/**
 * Where Redis and PostgreSQL are, decided before anything starts: the URLs given,
 * else the embedded services under STOCKADE_DATA_DIR. `owned` are the embedded
 * ones this process stops when it stops: those it starts (not running yet) and
 * those `adopt` hands over (a start that died left them running).
 */
export interface ServicePlan {
  dataDir: string;
  /** Whether any embedded service is used. */
  embedded: boolean;
  owned: ServiceSet;
  start(): Promise<{ redisUrl: string; databaseUrl: string }>;
  /** Stops the owned services; `fast`: a forced stop (services/local.ts). Safe while start() is under way or after it failed. */
  stop(o?: { fast?: boolean }): Promise<void>;
}

export function planServices(env: NodeJS.ProcessEnv = process.env, o: { adopt?: ServiceSet } = {}): ServicePlan {
  const s = serviceSettings(env);
  const dataDir = defaultDataDir(env);
  const used: ServiceSet = { redis: !s.redisUrl, postgres: !s.databaseUrl };
  // Refused here, before anything starts, when the setting and the data dir disagree on which Redis it has.
  if (used.redis) embeddedRedisMasters(dataDir, s.redisClusterMasters);
  const running: ServiceSet = { redis: embeddedRedisRunning(dataDir), postgres: postgresRunning(join(dataDir, 'postgres')) };
  const owned: ServiceSet = {
    redis: used.redis && (!running.redis || (o.adopt?.redis ?? false)),
    postgres: used.postgres && (!running.postgres || (o.adopt?.postgres ?? false)),
  };
  // Unset, the embedded Redis's maxmemory is a quarter of the machine's memory (services/local.ts).
  const maxmemoryBytes = s.redisMaxmemoryMb === undefined ? undefined : s.redisMaxmemoryMb * 1024 * 1024;
  return {
    dataDir,
    embedded: used.redis || used.postgres,
    owned,
    start: async () => {
      if (!used.redis && !used.postgres) return { redisUrl: s.redisUrl!, databaseUrl: s.databaseUrl! };
      const local = await startLocalServices({ dataDir, appendfsync: s.redisAppendfsync, maxmemoryBytes, only: used, redisMasters: s.redisClusterMasters });
      // Another process may have started one meanwhile: that one is its to stop.
      owned.redis &&= local.started.redis || (o.adopt?.redis ?? false);
      owned.postgres &&= local.started.postgres || (o.adopt?.postgres ?? false);
      return { redisUrl: s.redisUrl ?? local.redisUrl, databaseUrl: s.databaseUrl ?? local.databaseUrl };
    },
    stop: (stopOptions = {}) => stopLocalServices(dataDir, { only: owned, fast: stopOptions.fast }),
  };
}

/**
 * REDIS_URL / DATABASE_URL when set; otherwise the embedded local services under
 * STOCKADE_DATA_DIR, started when not running already (`stockade services up`
 * starts them for good; a command stops on exit what it started itself).
 */
export async function resolveServices(env: NodeJS.ProcessEnv = process.env): Promise<ServiceUrls> {
  const plan = planServices(env);
  const urls = await plan.start();
  return { ...urls, stop: () => plan.stop(), embedded: plan.embedded };
}
