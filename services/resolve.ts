import { intSetting } from '../engine/index.ts';
import { defaultDataDir, findLocalServices, startLocalServices, stopLocalServices } from './local.ts';

export interface ServiceUrls {
  redisUrl: string;
  databaseUrl: string;
  /** Stops what this call started (nothing when the URLs came from outside or were running already). */
  stop: () => Promise<void>;
  embedded: boolean;
}

/**
 * REDIS_URL / DATABASE_URL when set; otherwise the embedded local services under
 * STOCKADE_DATA_DIR, started when not running already (`stockade services up`
 * starts them for good; `npm start` stops on exit what it started itself).
 */
export async function resolveServices(env: NodeJS.ProcessEnv = process.env): Promise<ServiceUrls> {
  if (env.REDIS_URL && env.DATABASE_URL) {
    return { redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL, stop: async () => {}, embedded: false };
  }
  const dataDir = defaultDataDir(env);
  const running = findLocalServices(dataDir);
  const local = running ?? (await startLocalServices({ dataDir, appendfsync: appendfsyncOf(env), maxmemoryBytes: maxmemoryOf(env) }));
  return {
    redisUrl: env.REDIS_URL || local.redisUrl,
    databaseUrl: env.DATABASE_URL || local.databaseUrl,
    stop: running ? async () => {} : () => stopLocalServices(dataDir),
    embedded: true,
  };
}

/** STOCKADE_REDIS_MAXMEMORY_MB, in bytes; undefined (the default: a quarter of the machine's memory) when unset. */
function maxmemoryOf(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.STOCKADE_REDIS_MAXMEMORY_MB;
  return raw ? intSetting('STOCKADE_REDIS_MAXMEMORY_MB', raw, 16, 1_048_576) * 1024 * 1024 : undefined;
}

function appendfsyncOf(env: NodeJS.ProcessEnv): 'everysec' | 'always' {
  return env.STOCKADE_REDIS_APPENDFSYNC === 'always' ? 'always' : 'everysec';
}
