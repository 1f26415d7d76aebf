import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { asServiceUser, freePort, portIsFree, run, serviceUserIds, stopPid, waitForPort } from './process.ts';
import { redisOsUser } from './redis.ts';

/** A local Redis Cluster: masters, each with one replica, on loopback (`stockade bench engine --redis-cluster`, the tests). */
export interface LocalCluster {
  /** A node's URL (any node: clients find the rest), with the password when there is one. */
  url: string;
  ports: number[];
  password: string | null;
  /** kill -9 of the node on that port (a master's replica then takes over). */
  kill: (port: number) => Promise<void>;
  /** Starts the node on that port again (killed before): it rejoins, as a replica of whoever took its slots. */
  restart: (port: number) => Promise<void>;
  /** The ports of the masters that serve slots now, as a live node sees it. */
  masters: () => Promise<number[]>;
  /** The port of the master that serves a slot now (CLUSTER SLOTS of a live node). */
  masterOfSlot: (slot: number) => Promise<number>;
  /** Waits until a slot `dead` served before kill() is served by another node (its replica promoted): that node's port. */
  waitFailover: (dead: number, timeoutMs: number) => Promise<number>;
  stop: () => Promise<void>;
}

/** A free port whose cluster bus port (port + 10000) exists and is free too. */
export async function freeNodePort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await portIsFree(port + 10_000))) return port;
  }
}

/** The node timeout of a local cluster unless told: a master that does not answer this long is failed over (Redis' default is 15 s). */
const nodeTimeoutMsDefault = 3_000;

export interface LocalClusterOptions {
  masters?: number;
  /** Where its dir is made (a temp dir of its own inside). */
  under?: string;
  /** The password of every node's default user (requirepass, and masterauth for its replicas); none when absent. */
  password?: string;
  nodeTimeoutMs?: number;
}

/**
 * Starts 2 × masters redis-server processes with cluster-enabled on loopback, joins them (one replica each) and
 * waits for cluster_state:ok and every replica's first sync. No AOF: a local cluster to try and measure Stockade
 * on (the replicas are the copies), not a place to keep data.
 */
export async function startLocalCluster(o: LocalClusterOptions = {}): Promise<LocalCluster> {
  const masters = o.masters ?? 3;
  const dir = mkdtempSync(join(o.under ?? tmpdir(), 'stockade-cluster-'));
  const auth = o.password ? ['-a', o.password, '--no-auth-warning'] : [];
  const cli = (args: string[]) => run('redis-cli', [...auth, ...args]);
  // As root, redis-server runs as its own OS user, as the embedded one does (services/redis.ts).
  const owner = serviceUserIds(redisOsUser, 'redis-server');
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const ports: number[] = [];
  const pids: number[] = [];
  const stop = async () => {
    await Promise.all(ports.map((port) => cli(['-p', String(port), 'shutdown', 'nosave']).catch(() => {})));
    await Promise.all(pids.map((pid) => stopPid(pid)));
    rmSync(dir, { recursive: true, force: true });
  };
  const argsOf = new Map<number, [string, string[]]>();
  const spawnNode = async (port: number) => {
    const [cmd, args] = argsOf.get(port)!;
    const node = spawn(cmd, args, { stdio: 'ignore' });
    pids.push(node.pid!);
    await waitForPort(port, `cluster node ${port}`);
  };
  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await freeNodePort();
      argsOf.set(port, asServiceUser(owner ? redisOsUser : null, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `${port}.nodes.conf`), '--cluster-node-timeout', String(o.nodeTimeoutMs ?? nodeTimeoutMsDefault), '--dir', dir,
        ...(o.password ? ['--requirepass', o.password, '--masterauth', o.password] : []),
        // The other masters serve on while one master's slots fail over (the default refuses every slot meanwhile).
        '--cluster-require-full-coverage', 'no',
        // A replica syncs as soon as it is told whom to follow (the default waits 5 s for more replicas to share a transfer).
        '--repl-diskless-sync-delay', '0',
        '--dbfilename', `${port}.rdb`, '--appendonly', 'no', '--save', '', '--logfile', join(dir, `${port}.log`)]));
      ports.push(port);
      await spawnNode(port);
    }
    await cli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    await waitClusterOk(ports, { password: o.password });
    await waitReplicas(cli, ports, masters);
    const alive = new Set(ports);
    /** CLUSTER SLOTS as the node on port sees it: [from, to, [host, master's port], …] per range. */
    const slotRanges = async (port: number) =>
      JSON.parse((await cli(['-p', String(port), '--json', 'cluster', 'slots'])).stdout) as [number, number, [string, number]][];
    const masterOfSlot = async (slot: number) => {
      for (const port of alive) {
        const ranges = await slotRanges(port).catch(() => null);
        if (!ranges) continue;
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no master serves slot ${slot}`);
        return Number(range[2][1]);
      }
      throw new Error(`no node of ${ports.join(', ')} answers CLUSTER SLOTS`);
    };
    /** A slot each killed master served when it was killed. */
    const servedWhenKilled = new Map<number, number>();
    // The server's own pid (as root, the pid spawned is runuser's, which a SIGKILL would not pass on).
    const kill = async (port: number) => {
      const own = (await slotRanges(port)).find((range) => Number(range[2][1]) === port);
      if (own) servedWhenKilled.set(port, own[0]);
      const info = await cli(['-p', String(port), 'info', 'server']);
      process.kill(Number(/process_id:(\d+)/.exec(info.stdout)![1]), 'SIGKILL');
      alive.delete(port);
    };
    const restart = async (port: number) => {
      await spawnNode(port);
      alive.add(port);
    };
    const userinfo = o.password ? `:${encodeURIComponent(o.password)}@` : '';
    const mastersNow = async (alive: number[] = ports) => {
      for (const port of alive) {
        const out = await cli(['-p', String(port), 'cluster', 'nodes']).catch(() => null);
        if (!out) continue;
        return out.stdout.trim().split('\n').map((l) => l.split(' '))
          .filter((n) => n[2]!.includes('master') && !n[2]!.includes('fail') && n.length > 8)
          .map((n) => Number(portOf(n)));
      }
      throw new Error(`no node of ${ports.join(', ')} answers CLUSTER NODES`);
    };
    const waitFailover = async (dead: number, timeoutMs: number) => {
      const slot = servedWhenKilled.get(dead);
      if (slot === undefined) throw new Error(`:${dead} served no slot when it was killed (or was not killed)`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const master = await masterOfSlot(slot).catch(() => dead);
        if (master !== dead) return master;
        if (Date.now() > deadline) throw new Error(`slot ${slot} was not failed over from :${dead} within ${timeoutMs} ms`);
        await sleep(100);
      }
    };
    return { url: `redis://${userinfo}127.0.0.1:${ports[0]}`, ports, password: o.password ?? null, kill, restart,
      masters: () => mastersNow([...alive]), masterOfSlot, waitFailover, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** How long a master is seen without a replica before a second replica of another master is moved to it. */
const secondReplicaMoveMs = 5_000;

/** redis-cli with a cluster's credentials. */
export type Cli = (args: string[]) => Promise<{ stdout: string }>;

/**
 * Waits until every master with slots has a replica. `redis-cli --cluster create` sometimes leaves a node meant to
 * be a replica as a master without slots (its CLUSTER REPLICATE came before it knew the master), or two replicas on
 * one master and none on another: a spare node (a master without slots, or a second replica) is told to replicate
 * a master that has none.
 */
export async function waitReplicas(cli: Cli, ports: number[], masters: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let bareSince = 0;
  for (;;) {
    const text = (await cli(['-p', String(ports[0]), 'cluster', 'nodes'])).stdout.trim();
    const nodes = text.split('\n').map((l) => l.split(' '));
    const withSlots = nodes.filter((n) => n[2]!.includes('master') && n.length > 8).map((n) => n[0]!);
    const replicas = nodes.filter((n) => n[2]!.includes('slave') && !n[2]!.includes('fail'));
    const bare = withSlots.filter((id) => !replicas.some((r) => r[3] === id));
    // A replica that never finished its first sync cannot be promoted: each one's link must be up.
    if (withSlots.length === masters && bare.length === 0 && (await replicasInSync(cli, nodes))) return;
    if (Date.now() > deadline) throw new Error(`masters without a replica after ${timeoutMs} ms: ${bare.join(', ')}; CLUSTER NODES:\n${text}`);
    const idle = nodes.filter((n) => n[2]!.includes('master') && n.length <= 8 && !n[2]!.includes('fail'));
    const second = replicas.filter((r, i) => replicas.findIndex((x) => x[3] === r[3]) !== i);
    // The view of ports[0] may lag: a node it still lists as a bare master may replicate already (it is left alone:
    // told another master, two replicas could end on one). A second replica of one master is moved only once the
    // view has shown a bare master for a while (a lagging view does not move anything).
    const spare: string[][] = [];
    for (const node of idle) if (/^role:master/m.test((await cli(['-p', portOf(node), 'info', 'replication'])).stdout)) spare.push(node);
    bareSince = bare.length === 0 ? 0 : bareSince || Date.now();
    for (const [i, node] of [...spare, ...(Date.now() - bareSince > secondReplicaMoveMs ? second : [])].entries()) {
      const master = bare[i];
      if (!master) break;
      await cli(['-p', portOf(node), 'cluster', 'replicate', master]).catch(() => {});
    }
    await sleep(500);
  }
}

/** The port of a CLUSTER NODES line (`id host:port@bus …`). */
const portOf = (node: string[]) => node[1]!.split('@')[0]!.split(':').at(-1)!;

async function replicasInSync(cli: Cli, nodes: string[][]): Promise<boolean> {
  const replicas = nodes.filter((n) => n[2]!.includes('slave')).map(portOf);
  const links = await Promise.all(replicas.map(async (port) => (await cli(['-p', port, 'info', 'replication'])).stdout));
  return links.every((info) => /master_link_status:up/.test(info));
}

/** Waits until every node says cluster_state:ok. */
export async function waitClusterOk(ports: number[], auth: { username?: string; password?: string }, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ports.map(async (port) => {
      const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, ...auth });
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

