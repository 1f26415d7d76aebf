import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalServices, stopLocalServices } from '../../services/local.ts';
import { freePort } from '../../services/process.ts';
import { runRoot } from './run-root.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** As the application's ACL user (no FLUSHALL, CONFIG, DEBUG, …). */
    redisUrl: string;
    /** As the admin ACL user: for tests that read or change the server (CONFIG GET, …). */
    redisAdminUrl: string;
    databaseUrl: string;
    /** Whether redisUrl names a node of a Redis Cluster (the cluster pass: test/support/cluster-global-setup.ts). */
    redisCluster: boolean;
  }
}

/**
 * One real redis-server and one real PostgreSQL for the whole run, on free
 * ports; every test file works in its own key prefix (and schema), so files run
 * in parallel.
 *
 * Every temporary dir of the run lives under one root: TMPDIR points there for
 * the test workers and every process they start, so the test files' mkdtemp dirs,
 * their redis-servers and PostgreSQLs, and these services all land in it (and the
 * default STOCKADE_DATA_DIR points into it). At the
 * end (tests failed or not, and on SIGINT/SIGTERM or any other exit) whatever
 * still runs in the root is stopped and the root is removed.
 */
export default async function setup(project: TestProject) {
  const { root, teardown: teardownRoot } = runRoot(project, 'stockade-test-');
  process.env.TMPDIR = root;
  // And a process a test starts without saying where its data goes writes it here, not into the checkout's ./.data.
  process.env.STOCKADE_DATA_DIR = join(root, 'data');
  const dataDir = join(root, 'svc'); // short: PostgreSQL's socket path (in its data dir) must stay under 108 bytes
  const teardown = () => teardownRoot(() => stopLocalServices(dataDir));
  try {
    // anyDatabase: each test file gets a database of its own (test/support/api.ts freshDatabase).
    const services = await startLocalServices({ dataDir, ephemeral: true, anyDatabase: true, ports: { redisPort: await freePort(), postgresPort: await freePort() } });
    project.provide('redisUrl', services.redisUrl);
    project.provide('redisAdminUrl', services.redisAdminUrl);
    project.provide('databaseUrl', services.databaseUrl);
    project.provide('redisCluster', false);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
