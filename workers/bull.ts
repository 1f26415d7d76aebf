import type { Queue, Worker } from 'bullmq';
import { Cluster, type RedisOptions } from 'ioredis';
import { fulfilsWithin, type Logger } from '../engine/index.ts';

/**
 * ioredis options for BullMQ's connections, from a redis:// or rediss:// URL (blocking connections need
 * maxRetriesPerRequest: null); on a Redis Cluster (`cluster`: the nodes the engine's client knows), a Cluster client
 * seeded with that node and those (BullMQ's keys share
 * the `{bull}` hash tag of their prefix, so each queue lives in one slot).
 */
export function bullConnection(redisUrl: string, connectionName: string, cluster: readonly { host: string; port: number }[] | null = null):
  RedisOptions | Cluster {
  const url = new URL(redisUrl);
  const node = {
    username: decodeURIComponent(url.username) || undefined,
    password: decodeURIComponent(url.password) || undefined,
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    connectionName,
  };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 6379);
  // Every node the engine's client knows as well: a connection made again while the URL's node is down finds the others.
  if (cluster) return new Cluster([{ host, port }, ...cluster], { redisOptions: node, maxRedirections: 32, retryDelayOnFailover: 300 });
  return { host, port, db: Number(url.pathname.slice(1) || 0), ...node };
}

/** How long a close waits for BullMQ's connections to be up before it closes them. */
const bullReadyWaitMs = 5_000;

/**
 * Closes a queue and its worker within bounds, letting the jobs in hand finish
 * for up to lockMs; `what` names them in the logs. A job still running past
 * that is left to the stall check (another worker runs it again after its lock).
 */
export async function closeBull(queue: Queue, worker: Worker, lockMs: number, log: Logger, what: string,
  connection: RedisOptions | Cluster): Promise<void> {
  // BullMQ closes the connections it made, never one it was handed (a Cluster client): left open, that one kept
  // refreshing its slots once the cluster stopped, an error logged every 120 ms until the process exited.
  try {
    await closeQueueAndWorker(queue, worker, lockMs, log, what);
  } finally {
    if (connection instanceof Cluster) connection.disconnect();
  }
}

async function closeQueueAndWorker(queue: Queue, worker: Worker, lockMs: number, log: Logger, what: string): Promise<void> {
  // BullMQ 5.81 crashes the process when a connection still being set up is closed (its set-up's rejection is
  // emitted as an 'error' after close removed every listener; cf. taskforcesh/bullmq#1218, #2385): wait until
  // its connections are up. When they never come up (Redis away), leave them to the process's exit.
  if (!(await fulfilsWithin(Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]), bullReadyWaitMs))) {
    log.warn(`${what} stopped without closing its BullMQ connections: Redis did not answer`);
    return;
  }
  // Bounded: after Redis went away and came back under it, BullMQ's close was seen waiting for ever with
  // no drain job running (test/api-readiness.test.ts: PostgreSQL stopped, an entry parked, Redis
  // restarted), forced close included. Past a lock's time the close is forced, past two its connections
  // are cut.
  const closed = (async () => {
    if (!(await fulfilsWithin(worker.close(), lockMs))) await worker.close(true);
    await queue.close();
  })();
  if (!(await fulfilsWithin(closed, 2 * lockMs))) {
    // Its connections are up (waited for above), so cutting them cannot hit the set-up crash; a process
    // whose connections kept reconnecting would not exit.
    log.warn({ lockMs }, `${what}: BullMQ did not close within two lock times; its connections are cut`);
    // (The worker's blocking connection is BullMQ's own field: cut it too.)
    const blocking = (worker as unknown as { blockingConnection?: { disconnect(): Promise<void> } }).blockingConnection;
    await Promise.allSettled([worker.disconnect(), queue.disconnect(), blocking?.disconnect()]);
  }
}
