import { defaultDataDir, findLocalServices, startLocalServices, stopLocalServices, type LocalServices } from '../services/local.ts';
import { runSteps } from './progress.ts';
import { pairs } from './table.ts';

interface Opts {
  json?: boolean;
}

function print(s: LocalServices, opts: Opts): void {
  console.log(opts.json
    ? JSON.stringify({ running: true, redisUrl: s.redisUrl, databaseUrl: s.databaseUrl, dataDir: s.dataDir })
    : pairs([['redis', s.redisUrl], ['postgres', s.databaseUrl], ['data', s.dataDir]]));
}

export async function servicesUp(opts: Opts): Promise<void> {
  const dataDir = defaultDataDir();
  const up: { services?: LocalServices } = {};
  await runSteps([{ title: `start redis-server and PostgreSQL under ${dataDir}`, run: async () => { up.services = await startLocalServices({ dataDir }); } }], opts);
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
