import type { Cluster, Redis } from 'ioredis';

export interface RedisCpu {
  /** Redis server CPU (user + sys), seconds. */
  cpuSec: number;
  /** Time spent inside EVALSHA/EVAL calls, microseconds, and their count. */
  scriptUsec: number;
  scriptCalls: number;
}

/** Reads the counters that say what Redis spent: INFO cpu and INFO commandstats. */
export async function redisCpu(redis: Redis): Promise<RedisCpu> {
  const info = await redis.info('cpu');
  const stats = await redis.info('commandstats');
  const num = (text: string, key: string) => Number(new RegExp(`${key}:([0-9.]+)`).exec(text)?.[1] ?? 0);
  let scriptUsec = 0;
  let scriptCalls = 0;
  for (const cmd of ['evalsha', 'eval']) {
    const line = new RegExp(`cmdstat_${cmd}:calls=(\\d+),usec=(\\d+)`).exec(stats);
    if (line) {
      scriptCalls += Number(line[1]);
      scriptUsec += Number(line[2]);
    }
  }
  return { cpuSec: num(info, 'used_cpu_user') + num(info, 'used_cpu_sys'), scriptUsec, scriptCalls };
}

/** Redis CPU and script time: of the one server, or summed over every master of a cluster. */
export async function serversCpu(redis: Redis | Cluster): Promise<RedisCpu> {
  if (redis.isCluster) await redis.ping(); // connected, and the masters known
  const servers = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  const each = await Promise.all(servers.map((server) => redisCpu(server)));
  return each.reduce((a, b) => ({ cpuSec: a.cpuSec + b.cpuSec, scriptUsec: a.scriptUsec + b.scriptUsec, scriptCalls: a.scriptCalls + b.scriptCalls }));
}

export function cpuDelta(before: RedisCpu, after: RedisCpu): RedisCpu {
  return {
    cpuSec: after.cpuSec - before.cpuSec,
    scriptUsec: after.scriptUsec - before.scriptUsec,
    scriptCalls: after.scriptCalls - before.scriptCalls,
  };
}
