import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalServices, stopLocalServices } from '../../services/local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    databaseUrl: string;
  }
}

/**
 * One real redis-server and one real PostgreSQL for the whole run, in a
 * temporary dir on free ports; every test file works in its own key prefix
 * (and schema), so files run in parallel. Torn down even when tests fail.
 */
export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(join(tmpdir(), 'stockade-test-'));
  let stopped = false;
  const teardown = async () => {
    if (stopped) return;
    stopped = true;
    await stopLocalServices(dataDir, { remove: true });
  };
  try {
    const services = await startLocalServices({ dataDir, ephemeral: true });
    project.provide('redisUrl', services.redisUrl);
    project.provide('databaseUrl', services.databaseUrl);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
