import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalServices, stopLocalServices } from '../../services/local.ts';
import { freePort } from '../../services/process.ts';
import { startCluster, type LocalCluster } from './cluster.ts';
import { runRoot } from './run-root.ts';

/**
 * The cluster pass (vitest.config.ts, project `cluster`): the suite's Redis is a local Redis Cluster of 3 masters,
 * each with a replica (test/support/cluster.ts), and a PostgreSQL of its own, in a root of their own (the `main`
 * project's setup may run after this one: its TMPDIR is not there yet), guarded like the main one.
 */
export default async function setup(project: TestProject) {
  const { root, teardown: teardownRoot } = runRoot(project, 'stockade-cl-');
  const dataDir = join(root, 'svc');
  let cluster: LocalCluster | null = null;
  const teardown = () => teardownRoot(async () => {
    await cluster?.stop();
    await stopLocalServices(dataDir);
  });
  try {
    const services = await startLocalServices({ dataDir, ephemeral: true, anyDatabase: true, only: { redis: false, postgres: true },
      ports: { redisPort: 0, postgresPort: await freePort() } });
    cluster = await startCluster(3, root);
    project.provide('redisUrl', cluster.url);
    project.provide('redisAdminUrl', cluster.url);
    project.provide('databaseUrl', services.databaseUrl);
    project.provide('redisCluster', true);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
