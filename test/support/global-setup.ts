import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalServices, stopLocalServices } from '../../services/local.ts';
import { freePort } from '../../services/process.ts';
import { stopProcessesUnderSync } from './processes.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** As the application's ACL user (no FLUSHALL, CONFIG, DEBUG, …). */
    redisUrl: string;
    /** As the admin ACL user: for tests that read or change the server (CONFIG GET, …). */
    redisAdminUrl: string;
    databaseUrl: string;
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
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'stockade-test-')));
  chmodSync(root, 0o1777); // like /tmp: PostgreSQL runs as its own OS user
  process.env.TMPDIR = root;
  // And a process a test starts without saying where its data goes writes it here, not into the checkout's ./.data.
  process.env.STOCKADE_DATA_DIR = join(root, 'data');
  const dataDir = join(root, 'svc'); // short: PostgreSQL's socket path (in its data dir) must stay under 108 bytes
  let removed = false;
  const removeSync = () => {
    if (removed) return;
    removed = true;
    const left = stopProcessesUnderSync(root);
    if (left.length > 0) process.stderr.write(`global teardown: stopped what was left running under ${root}: ${left.join(', ')}\n`);
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
  // vitest exits 1 ms after SIGINT/SIGTERM without running teardowns or removing its own temp dir
  // (transformed modules, under the TMPDIR it started with): this cleanup is synchronous, so it completes first.
  const abandon = () => {
    removeSync();
    rmSync(project.tmpDir, { recursive: true, force: true, maxRetries: 3 });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    abandon();
    unlisten();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const unlisten = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', abandon);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', abandon);
  const teardown = async () => {
    try {
      await stopLocalServices(dataDir);
    } finally {
      removeSync();
      unlisten();
    }
  };
  try {
    // anyDatabase: each test file gets a database of its own (test/support/api.ts freshDatabase).
    const services = await startLocalServices({ dataDir, ephemeral: true, anyDatabase: true, ports: { redisPort: await freePort(), postgresPort: await freePort() } });
    project.provide('redisUrl', services.redisUrl);
    project.provide('redisAdminUrl', services.redisAdminUrl);
    project.provide('databaseUrl', services.databaseUrl);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
