import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { asServiceUser, freePort, run, serviceUserIds, stopPid, waitForPort } from '../../services/process.ts';
import { redisOsUser } from '../../services/redis.ts';

/** A local Redis Cluster for tests: masters, each with one replica, on loopback, without passwords. */
export interface LocalCluster {
  /** A node's URL (any node: clients find the rest). */
  url: string;
  ports: number[];
  stop: () => Promise<void>;
}

/** Starts 2 × masters redis-server processes with cluster-enabled, joins them (one replica each) and waits for cluster_state:ok. */
export async function startCluster(masters = 3): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'stockade-cluster-'));
  // As root, redis-server runs as its own OS user, as the embedded one does (services/redis.ts).
  const owner = serviceUserIds(redisOsUser, 'redis-server');
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const ports: number[] = [];
  const pids: number[] = [];
  const stop = async () => {
    await Promise.all(ports.map((port) => run('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => {})));
    await Promise.all(pids.map((pid) => stopPid(pid)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await freePort();
      const [cmd, args] = asServiceUser(owner ? redisOsUser : null, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `${port}.nodes.conf`), '--cluster-node-timeout', '3000', '--dir', dir,
        '--dbfilename', `${port}.rdb`, '--appendonly', 'no', '--save', '', '--logfile', join(dir, `${port}.log`)]);
      const node = spawn(cmd, args, { stdio: 'ignore' });
      pids.push(node.pid!);
      ports.push(port);
      await waitForPort(port, `cluster node ${port}`);
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    await waitClusterOk(ports);
    return { url: `redis://127.0.0.1:${ports[0]}`, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitClusterOk(ports: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ports.map(async (port) => {
      const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true });
      try {
        await r.connect();
        return /cluster_state:ok/.test(await r.cluster('INFO') as string);
      } catch {
        return false;
      } finally {
        r.disconnect();
      }
    }));
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`the cluster on ports ${ports.join(', ')} was not ok within ${timeoutMs} ms`);
    await sleep(200);
  }
}
