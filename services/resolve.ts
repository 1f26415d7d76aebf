import { serviceSettings } from '../settings/views.ts';
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
  const s = serviceSettings(env);
  if (s.redisUrl && s.databaseUrl) {
    return { redisUrl: s.redisUrl, databaseUrl: s.databaseUrl, stop: async () => {}, embedded: false };
  }
  const dataDir = defaultDataDir(env);
  const running = findLocalServices(dataDir);
  // Unset, the embedded Redis's maxmemory is a quarter of the machine's memory (services/local.ts).
  const maxmemoryBytes = s.redisMaxmemoryMb === undefined ? undefined : s.redisMaxmemoryMb * 1024 * 1024;
  const local = running ?? (await startLocalServices({ dataDir, appendfsync: s.redisAppendfsync, maxmemoryBytes }));
  return {
    redisUrl: s.redisUrl ?? local.redisUrl,
    databaseUrl: s.databaseUrl ?? local.databaseUrl,
    stop: running ? async () => {} : () => stopLocalServices(dataDir),
    embedded: true,
  };
}
