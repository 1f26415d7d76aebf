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
  if (cluster === 'on' || (cluster === 'auto' && (await isClusterNode(url)))) return connectCluster(url, name);
  return new Redis(url, { ...nodeOptions(name), ...pipelining, retryStrategy: (attempt) => Math.min(50 * attempt, 1_000) });
}

/** Whether the node at url runs with cluster-enabled (false when it cannot be asked within a few seconds: one Redis is assumed). */
async function isClusterNode(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3_000, commandTimeout: 3_000, retryStrategy: () => null });
  try {
    await probe.connect();
    return /^cluster_enabled:1\b/m.test(await probe.info('cluster'));
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

function connectCluster(url: string, name: string): Cluster {
  const u = new URL(url);
  return new Cluster([{ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) }], {
    ...pipelining,
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
