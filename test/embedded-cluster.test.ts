import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { expect, it } from 'vitest';
import { findLocalServices } from '../services/local.ts';
import { isAlive } from '../services/process.ts';
import { leftovers } from './support/leftovers.ts';
import { processesUnder } from './support/processes.ts';

// `stockade start --redis-cluster N` / `stockade services up --redis-cluster N` (issue #16 item 6): the embedded
// Redis as a local Redis Cluster kept in the data dir, as a user runs it: its nodes, its passwords (never in a
// process's argv), what it keeps across a stop and a start, and a data dir that is refused another kind of Redis.
const left = leftovers();

function stockade(args: string[], env: Record<string, string>) {
  const run = spawnSync(process.execPath, ['bin/stockade.mjs', ...args],
    { env: { PATH: process.env.PATH ?? '', TMPDIR: left.dir('stockade-ec-tmp-'), ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const nodePids = (dataDir: string) => processesUnder(dataDir).filter((p) => p.name === 'redis-server').map((p) => p.pid);

it('services up --redis-cluster 3: six nodes with AOF and the ACL users, kept across a stop and a start; another kind of Redis refused', async () => {
  const dataDir = join(left.dir('stockade-ec-'), 'data');
  const env = { STOCKADE_DATA_DIR: dataDir };
  const up = stockade(['services', 'up', '--redis-cluster', '3', '--json'], env);
  expect(up.status, up.stderr).toBe(0);
  expect(JSON.parse(up.stdout)).toMatchObject({ running: true, dataDir });
  expect(nodePids(dataDir)).toHaveLength(6);
  const clusterFile = JSON.parse(readFileSync(join(dataDir, 'redis-cluster', 'cluster.json'), 'utf8')) as { ports: number[] };
  expect(clusterFile).toMatchObject({ masters: 3, created: true });
  expect(statSync(join(dataDir, 'redis-cluster', 'stockade.password')).mode & 0o777).toBe(0o600);

  const services = findLocalServices(dataDir)!;
  const appPassword = new URL(services.redisUrl).password;
  const adminPassword = new URL(services.redisAdminUrl).password;
  // Every node: AOF on, cluster on, no password in its argv (other accounts read it).
  for (const pid of nodePids(dataDir)) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    expect(argv).not.toContain(appPassword);
    expect(argv).not.toContain(adminPassword);
  }
  const client = (url: string) => {
    const u = new URL(url);
    return new Cluster([{ host: '127.0.0.1', port: Number(u.port) }], { redisOptions: { username: u.username, password: decodeURIComponent(u.password) } });
  };
  const app = client(services.redisUrl);
  try {
    expect(await app.cluster('INFO')).toMatch(/cluster_state:ok/);
    expect(String(await app.cluster('NODES')).trim().split('\n')).toHaveLength(6);
    for (let i = 0; i < 30; i++) await app.set(`ec:{${i}}`, `v${i}`);
    // The application's user cannot run what only operators may.
    await expect(app.config('GET', 'appendonly')).rejects.toThrow(/NOPERM/);
  } finally {
    app.disconnect();
  }
  const admin = client(services.redisAdminUrl);
  try {
    await admin.cluster('INFO'); // connected, the slots known
    const nodes = admin.nodes('master');
    expect(nodes).toHaveLength(3);
    for (const node of nodes) expect(await node.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  } finally {
    admin.disconnect();
  }

  // Stopped and started again (without the flag: the data dir says what it has): same nodes, same ports, the data kept.
  const pidsBefore = nodePids(dataDir);
  expect(stockade(['services', 'down'], env).status).toBe(0);
  expect(pidsBefore.filter(isAlive)).toEqual([]);
  const again = stockade(['services', 'up', '--json'], env);
  expect(again.status, again.stderr).toBe(0);
  expect(JSON.parse(readFileSync(join(dataDir, 'redis-cluster', 'cluster.json'), 'utf8')).ports).toEqual(clusterFile.ports);
  const back = client(findLocalServices(dataDir)!.redisUrl);
  try {
    for (let i = 0; i < 30; i++) expect(await back.get(`ec:{${i}}`)).toBe(`v${i}`);
  } finally {
    back.disconnect();
  }

  // Another kind of Redis for this data dir is refused before anything starts; a cluster needs 3 masters at least.
  const other = stockade(['services', 'up', '--redis-cluster', '4'], env);
  expect(other.status).not.toBe(0);
  expect(other.stderr).toMatch(/has a Redis Cluster of 3 masters.*not a Redis Cluster of 4 masters/);
  const single = stockade(['start'], { ...env, STOCKADE_REDIS_CLUSTER_MASTERS: '0', PORT: '0' });
  expect(single.status).not.toBe(0);
  expect(single.stderr).toMatch(/has a Redis Cluster of 3 masters.*not one redis-server/);
  const two = stockade(['start', '--redis-cluster', '2'], env);
  expect(two.status).not.toBe(0);
  expect(two.stderr).toContain('STOCKADE_REDIS_CLUSTER_MASTERS=2 is not 0, or an integer in [3, 16]');

  const pids = nodePids(dataDir);
  expect(stockade(['services', 'down'], env).status).toBe(0);
  expect(pids.filter(isAlive)).toEqual([]);
}, 240_000);
