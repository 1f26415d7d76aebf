import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../engine/index.ts';
import { freeNodePort, waitClusterOk, waitReplicas, type Cli } from './cluster.ts';
import { isAlive, run, serviceUserIds } from './process.ts';
import { readPrivateFile, replacePrivateFile, secretFile, serviceDir } from './private-files.ts';
import { redisAdminUser, redisFiles, redisOsUser, redisUrls, serverPid, startRedis, stopRedis } from './redis.ts';

/**
 * The embedded Redis as a local Redis Cluster (`stockade start --redis-cluster N`): N masters with a replica each,
 * every node a redis-server of its own under <dir>/node-<i> (AOF on, its nodes.conf kept), all sharing the ACL users
 * and password files of the single embedded Redis (services/redis.ts), kept in dir. Its ports are kept in
 * dir/cluster.json: a node must come back on its port, which the other nodes know it by.
 */
export interface EmbeddedClusterOptions {
  dir: string;
  masters: number;
  appendfsync?: 'everysec' | 'always';
  /** The maxmemory of each node. */
  maxmemoryBytes?: number;
  /** The node timeout (a master this long silent is failed over); Redis's default is 15 s. */
  nodeTimeoutMs?: number;
}

interface ClusterFile {
  masters: number;
  ports: number[];
  /** Written before the nodes first start (so a failed creation's nodes can be stopped); true once redis-cli joined them. */
  created: boolean;
}

/** The smallest cluster redis-cli creates. */
const clusterMastersMin = 3;
const clusterMastersMax = 16;

const nodeTimeoutMsDefault = 5_000;

const nodeDir = (dir: string, i: number) => join(dir, `node-${i}`);

/** Read as services.json is (readPrivateFile): the dir is the server's OS user's, and a link planted there is refused. */
function readClusterFile(dir: string): ClusterFile | null {
  const file = join(dir, 'cluster.json');
  return existsSync(file) ? (JSON.parse(readPrivateFile(file)) as ClusterFile) : null;
}

/** The ports of the cluster's nodes whose redis-server runs (empty when there is no cluster under dir). */
export function clusterNodesRunning(dir: string): number[] {
  const known = readClusterFile(dir);
  return known ? known.ports.filter((_, i) => { const pid = serverPid(nodeDir(dir, i)); return pid > 0 && isAlive(pid); }) : [];
}

/** How many masters the cluster under dir was created with; null when there is none. */
export function clusterMasters(dir: string): number | null {
  return readClusterFile(dir)?.masters ?? null;
}

/** The URLs of the cluster under dir, naming its first running node (clients find the others). */
export function clusterUrls(dir: string): { url: string; adminUrl: string } {
  const [port] = clusterNodesRunning(dir);
  if (port === undefined) throw new StockadeError('SERVICE_FAILED', `no node of the Redis Cluster under ${dir} runs`);
  return redisUrls(dir, port);
}

/**
 * Starts the nodes that are not running. The first time, it creates the cluster (redis-cli --cluster create, one
 * replica per master) on free ports; afterwards each node starts again on its port from its nodes.conf and AOF. Waits
 * for cluster_state:ok on every node and every replica's link. A node that cannot start is an error naming its log.
 */
export async function startEmbeddedCluster(o: EmbeddedClusterOptions): Promise<{ url: string; adminUrl: string }> {
  const { dir, masters } = o;
  if (!Number.isInteger(masters) || masters < clusterMastersMin || masters > clusterMastersMax) {
    throw new StockadeError('SERVICE_FAILED', `a Redis Cluster needs ${clusterMastersMin} to ${clusterMastersMax} masters, not ${masters}`);
  }
  const known = readClusterFile(dir);
  if (known && known.masters !== masters) {
    throw new StockadeError('SERVICE_FAILED', `the Redis Cluster under ${dir} has ${known.masters} masters, not ${masters}: `
      + `start with --redis-cluster ${known.masters}, or use another STOCKADE_DATA_DIR`);
  }
  serviceDir(dir, serviceUserIds(redisOsUser, 'redis-server'), { tighten: true });
  const ports = known?.ports ?? await nodePorts(masters * 2);
  if (!known) writeClusterFile(dir, { masters, ports, created: false });
  const running = clusterNodesRunning(dir);
  await Promise.all(ports.map(async (port, i) => {
    if (running.includes(port)) return;
    await startRedis({ dir: nodeDir(dir, i), port, secretsDir: dir, appendfsync: o.appendfsync, maxmemoryBytes: o.maxmemoryBytes,
      config: nodeConfig(dir, o.nodeTimeoutMs ?? nodeTimeoutMsDefault) }).catch((error: unknown) => {
      throw new StockadeError('SERVICE_FAILED', `node ${i} of the Redis Cluster (port ${port}) did not start; see ${join(nodeDir(dir, i), 'redis.log')}: `
        + `${(error as Error).message}`, { cause: error });
    });
  }));
  const cli = adminCli(dir);
  if (!known?.created) {
    // A creation that failed half way left nodes that may know each other: each starts over empty (nothing was sold on them).
    if (known) await Promise.all(ports.map((p) => cli(['-p', String(p), 'flushall']).then(() => cli(['-p', String(p), 'cluster', 'reset', 'hard']))));
    await cli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    writeClusterFile(dir, { masters, ports, created: true });
  }
  await waitClusterOk(ports, { username: redisAdminUser, password: adminPassword(dir) }, 60_000);
  await waitReplicas(cli, ports, masters, 60_000);
  return redisUrls(dir, ports[0]!);
}

function writeClusterFile(dir: string, file: ClusterFile): void {
  replacePrivateFile(join(dir, 'cluster.json'), JSON.stringify(file));
}

/** SIGTERM to every node (each fsyncs its AOF and exits; SIGKILL after timeoutMs). */
export async function stopEmbeddedCluster(dir: string, timeoutMs?: number): Promise<void> {
  const known = readClusterFile(dir);
  if (!known) return;
  await Promise.all(known.ports.map((_, i) => stopRedis(nodeDir(dir, i), timeoutMs)));
}

/**
 * What each node is told in its 0600 config file: cluster on, its nodes.conf in its dir, the node timeout, and how
 * a replica authenticates to its master (the operators' ACL user: replication needs PSYNC and REPLCONF).
 */
function nodeConfig(dir: string, nodeTimeoutMs: number): string[] {
  return [
    'cluster-enabled yes', 'cluster-config-file nodes.conf', `cluster-node-timeout ${nodeTimeoutMs}`,
    // The other masters serve on while one master's slots fail over (the default refuses every slot meanwhile).
    'cluster-require-full-coverage no',
    `masteruser ${redisAdminUser}`, `masterauth ${adminPassword(dir)}`,
  ];
}

/** The operators' password, made on first use (services/redis.ts keeps the application's beside it). */
function adminPassword(dir: string): string {
  return secretFile(redisFiles(dir).adminPassword).value;
}

/** redis-cli as the operators' user; the password goes by environment (REDISCLI_AUTH), not argv. */
function adminCli(dir: string): Cli {
  const env = { ...process.env, REDISCLI_AUTH: adminPassword(dir) };
  return (args) => run('redis-cli', ['--user', redisAdminUser, ...args], { env });
}

async function nodePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freeNodePort();
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}
