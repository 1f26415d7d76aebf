import { afterAll, beforeAll } from 'vitest';
import { startCluster, type LocalCluster } from './cluster.ts';
import { freshDatabase, testApi, type TestApi } from './api.ts';

/**
 * A local 3-master Redis Cluster of the test file's own and a test API on it (write-through on, a fresh database):
 * started before the file's tests, stopped after. For the files that change the cluster itself (kill a master).
 */
export function clusterApiForFile(): { cluster: () => LocalCluster; api: () => TestApi } {
  let cluster: LocalCluster | undefined;
  let api: TestApi | undefined;
  beforeAll(async () => {
    cluster = await startCluster(3);
    api = await testApi({ redisUrl: cluster.url, databaseUrl: await freshDatabase(), workers: { pollMs: 20 } });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await cluster?.stop();
  }, 60_000);
  return { cluster: () => cluster!, api: () => api! };
}
