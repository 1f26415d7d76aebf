import { Redis } from 'ioredis';

/**
 * A Redis client that fails fast (the API answers 503) instead of queueing while Redis is away. Its
 * timeouts are constants, not settings: they say when Redis counts as away, not how big a deployment is.
 */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // Commands issued in one tick go out in one write, and Redis answers them with one: on this VM a round trip
    // costs Redis ~21 µs of CPU (a PING, one at a time) and Node a socket write, more than most scripts' own work.
    // The confirm path's unbatched calls (beginPayment, commitHold, reads) ride together this way: flash-sale Redis
    // CPU per request 118–145 -> 88–109 µs (issue #14). The group-commit batchers' own scripts already carry a tick's
    // requests in one call; wrapping each in a pipeline cost the reserve path ~10 µs a request, so they go direct.
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: ['reserveHolds', 'claimKeys'],
    // A stalled Redis gives 503s, not requests that hang.
    commandTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
  });
}
