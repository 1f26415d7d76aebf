import { defaultDataDir, findLocalServices, startLocalServices, stopLocalServices } from '../services/local.ts';

export async function servicesUp(): Promise<void> {
  const s = await startLocalServices({ dataDir: defaultDataDir() });
  console.log(`redis    ${s.redisUrl}\npostgres ${s.databaseUrl}\ndata     ${s.dataDir}`);
}

export async function servicesDown(): Promise<void> {
  await stopLocalServices(defaultDataDir());
  console.log('stopped');
}

export function servicesStatus(): void {
  const s = findLocalServices(defaultDataDir());
  if (!s) {
    console.log('not running');
    process.exitCode = 1;
    return;
  }
  console.log(`redis    ${s.redisUrl}\npostgres ${s.databaseUrl}\ndata     ${s.dataDir}`);
}
