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
    enableAutoPipelining: false,
    // A stalled Redis gives 503s, not requests that hang.
    commandTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
  });
}
