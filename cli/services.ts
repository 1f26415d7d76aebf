import { defaultDataDir, findLocalServices, startLocalServices, stopLocalServices, type LocalServices } from '../services/local.ts';
import { maskPassword } from '../settings/kinds.ts';
import { serviceSettings } from '../settings/views.ts';
import { runSteps } from './progress.ts';
import { pairs } from './table.ts';

interface Opts {
  json?: boolean;
}

/** The URLs with their passwords masked (a terminal's scrollback and a CI log keep what is printed); the passwords stay in the data dir's 0600 files. */
function print(s: LocalServices, opts: Opts): void {
  const redisUrl = maskPassword(s.redisUrl);
  const databaseUrl = maskPassword(s.databaseUrl);
  console.log(opts.json
    ? JSON.stringify({ running: true, redisUrl, databaseUrl, dataDir: s.dataDir })
    : pairs([['redis', redisUrl], ['postgres', databaseUrl], ['data', s.dataDir]]));
}

export async function servicesUp(opts: Opts): Promise<void> {
  const dataDir = defaultDataDir();
  const up: { services?: LocalServices } = {};
  const redisMasters = serviceSettings().redisClusterMasters;
  const redis = redisMasters ? `a Redis Cluster (${redisMasters} masters)` : 'redis-server';
  await runSteps([{ title: `start ${redis} and PostgreSQL under ${dataDir}`, run: async () => { up.services = await startLocalServices({ dataDir, redisMasters }); } }], opts);
  print(up.services!, opts);
}

export async function servicesDown(opts: Opts): Promise<void> {
  const dataDir = defaultDataDir();
  await runSteps([{ title: `stop redis-server and PostgreSQL under ${dataDir}`, run: () => stopLocalServices(dataDir) }], opts);
  console.log(opts.json ? JSON.stringify({ running: false, dataDir }) : 'stopped');
}

export function servicesStatus(opts: Opts): void {
  const dataDir = defaultDataDir();
  const s = findLocalServices(dataDir);
  if (s) return print(s, opts);
  console.log(opts.json ? JSON.stringify({ running: false, dataDir }) : 'not running');
  process.exitCode = 1;
}
