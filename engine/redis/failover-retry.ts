import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';

/**
 * Redis away, busy, loading, read-only, failing over or timing out: an error that says nothing about the request,
 * only that Redis could not run it now (or that its reply was lost: it may have run).
 */
export function isRedisUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e?.code ?? '')
    || /^(BUSY|LOADING|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)\b/.test(message)
    || /Connection is closed|MaxRetriesPerRequest|Stream isn't writeable|Command timed out/i.test(message)
    // Redis Cluster mid-failover: the slot still points at the dead master, or no node answers yet.
    || /Too many Cluster redirections|None of startup nodes is available|Failed to refresh slots cache/i.test(message);
}

/**
 * How long a batch is sent again after Redis Cluster failed it (a master killed, its replica not yet promoted; a slot
 * moving): a failover takes the cluster's node timeout plus a second or two (5 s plus that with `stockade start
 * --redis-cluster`, 15 s with Redis's default). Past the window the request is answered 503 with Retry-After, and the
 * client sends it again with its key. A constant, not a setting: it bounds how long a request waits, as the client's
 * command timeout does.
 */
export const failoverRetryWindowMs = 8_000;
/** Between two sends of a failed batch. */
const failoverRetryPauseMs = 250;

/**
 * A batcher's sink that, on a Redis Cluster, sends a batch a failover failed again (retryThroughFailover); on one
 * redis-server, `send` itself. Only for scripts idempotent by the ids their batch carries.
 */
export function resendOnCluster<G, Req, Res>(redis: Redis | Cluster, send: (group: G, requests: Req[]) => Promise<Res[]>)
  : (group: G, requests: Req[]) => Promise<Res[]> {
  return redis.isCluster ? (group, requests) => retryThroughFailover(() => send(group, requests)) : send;
}

/**
 * Runs `send` again while it fails with Redis unavailable, for up to windowMs after the first failure. Only for
 * calls that are idempotent by the ids they carry: a failed send may have run (a reply lost, a timeout), and the next
 * one must find its work done, not do it twice (reserveHolds and claimKeys answer a resent id as its first run did).
 */
export async function retryThroughFailover<T>(send: () => Promise<T>, windowMs = failoverRetryWindowMs): Promise<T> {
  let deadline = 0;
  for (;;) {
    try {
      return await send();
    } catch (error) {
      if (!isRedisUnavailable(error)) throw error;
      deadline ||= Date.now() + windowMs;
      if (Date.now() + failoverRetryPauseMs > deadline) throw error;
      await sleep(failoverRetryPauseMs);
    }
  }
}
