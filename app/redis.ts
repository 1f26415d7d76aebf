import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** Fail fast (the API answers 503) instead of queueing while Redis is away; the same for one Redis and each Cluster node. */
function nodeOptions(name: string): RedisOptions {
  return {
    connectionName: name,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // A stalled Redis gives 503s, not requests that hang.
    commandTimeout: 5_000,
  };
}

// Commands issued in one tick go out in one write, and Redis answers them with one: on this VM a round trip
// costs Redis ~21 µs of CPU (a PING, one at a time) and Node a socket write, more than most scripts' own work.
// The confirm path's unbatched calls (beginPayment, commitHold, reads) ride together this way: flash-sale Redis
// CPU per request 118–145 -> 88–109 µs (issue #14). The group-commit batchers' own scripts already carry a tick's
// requests in one call; wrapping each in a pipeline cost the reserve path ~10 µs a request, so they go direct.
const pipelining = { enableAutoPipelining: true, autoPipeliningIgnoredCommands: ['reserveHolds', 'claimKeys'] };

/**
 * A Redis client. Its timeouts are constants, not settings: they say when Redis counts as away, not how big
 * a deployment is. On a Redis Cluster (`cluster`: `auto` asks the node named by the URL), a Cluster client
 * seeded with that node: each command goes to the master of its slot, following MOVED and ASK.
 */
export async function connectRedis(url: string, name: string, cluster: 'auto' | 'on' | 'off' = 'auto'): Promise<Redis | Cluster> {
  const probe = cluster === 'off' ? null : await probeNode(url);
  if (cluster === 'on' || probe?.cluster) return connectCluster(url, name, probe?.nodes ?? []);
  return new Redis(url, { ...nodeOptions(name), ...pipelining, retryStrategy: (attempt) => Math.min(50 * attempt, 1_000) });
}

interface NodeAddress { host: string; port: number }

/**
 * Whether the node at url runs with cluster-enabled, and then every node it knows (CLUSTER NODES): the Cluster
 * client's startup nodes, so that a client that connects again while the node the URL names is down finds the
 * others. Null when it cannot be asked within a few seconds (one Redis is assumed, unless told `on`).
 */
async function probeNode(url: string): Promise<{ cluster: boolean; nodes: NodeAddress[] } | null> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3_000, commandTimeout: 3_000, retryStrategy: () => null });
  try {
    await probe.connect();
    if (!/^cluster_enabled:1\b/m.test(await probe.info('cluster'))) return { cluster: false, nodes: [] };
    const lines = String(await probe.cluster('NODES')).trim().split('\n');
    const nodes = lines.map((line) => /^\S+ (\S+):(\d+)@/.exec(line)).filter((m) => m !== null && m[1] !== '')
      .map((m) => ({ host: m![1]!, port: Number(m![2]) }));
    return { cluster: true, nodes };
  } catch {
    return null;
  } finally {
    probe.disconnect();
  }
}

function connectCluster(url: string, name: string, known: NodeAddress[]): Cluster {
  const u = new URL(url);
  const seed = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) };
  const others = known.filter((n) => !(n.port === seed.port && (n.host === seed.host || n.host === '127.0.0.1')));
  return new Cluster([seed, ...others], {
    // No autopipelining: ioredis resends a pipeline answered MOVED only when every command in it reads (ioredis
    // issues 2075, 1692), so after a failover a batch of scripts kept failing at the old master. One command at a
    // time, each MOVED is followed and the slot map refreshed.
    enableAutoPipelining: false,
    scaleReads: 'master',
    // A failover takes the cluster's node timeout plus a second or two: redirections and retries ride it out.
    maxRedirections: 32,
    retryDelayOnFailover: 300,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2_000,
    clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    redisOptions: {
      ...nodeOptions(name),
      username: decodeURIComponent(u.username) || undefined,
      password: decodeURIComponent(u.password) || undefined,
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}
