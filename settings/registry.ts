import { crashPoints, host, int, number, oneOf, path, secret, text, url, zeroOr, type Kind } from './kinds.ts';
import { crashPointNames } from '../common/crash-points.ts';

/**
 * Every environment variable Stockade reads, declared once: name, kind (with
 * its bounds or words), default, the roles that use it, and a line of doc.
 * settings/load.ts parses them; settings/views.ts gives each part its typed
 * view; the README's Configuration table lists them (a test keeps the two in
 * step). Nothing outside settings/ reads the environment.
 *
 * A limit is a setting when an operator sizes it to a deployment (traffic, the
 * machine, the stores' speed). It stays a named constant where it is part of
 * the HTTP contract (DESIGN.md §4), an invariant between other values, or a
 * safety bound on a loop whose real knob is a setting; such a constant says so
 * beside it.
 */
export const roles = {
  engine: 'any process running the engine (start, API processes, workers, reconcile, bench)',
  api: 'processes that serve HTTP',
  payments: 'the checkout saga and the simulated payment provider (every process built on the runtime)',
  workers: 'worker processes: write-through (outbox -> PostgreSQL) and the sweeps',
  reconciler: 'the sweeps: expiry, purge, overdue payments',
  services: 'finding or starting Redis and PostgreSQL (the embedded local ones unless given by URL)',
  log: 'logging',
} as const;

export type Role = keyof typeof roles;

export interface Setting<T = unknown> {
  /** The environment variable. */
  name: string;
  kind: Kind<T>;
  /** Absent: the setting is unset unless given (defaultDoc says what that means). */
  default?: T;
  /** What the default is, in words, where the value alone does not say it. */
  defaultDoc?: string;
  roles: readonly Role[];
  doc: string;
}

export type Group = Record<string, Setting<any>>;

/** A group's values: an unset setting without a default reads undefined. */
export type Values<G extends Group> = {
  [K in keyof G]: G[K] extends { kind: Kind<infer T>; default: unknown } ? T : G[K] extends { kind: Kind<infer T> } ? T | undefined : never;
};

/** Attempts of one drain job (with backoff) before it stays failed for STOCKADE_WORKER_FAILED_RETRY_MS. Not a setting: it bounds STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS, which is. */
export const drainAttempts = 8;

/** pino's levels, and `silent`. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const serviceRows = {
  redisUrl: { name: 'REDIS_URL', kind: url(['redis:', 'rediss:']), defaultDoc: 'unset: start a local redis-server', roles: ['services'],
    doc: 'Redis (or a Cluster seed node)' },
  databaseUrl: { name: 'DATABASE_URL', kind: url(['postgres:', 'postgresql:']), defaultDoc: 'unset: start a local PostgreSQL', roles: ['services'],
    doc: 'PostgreSQL' },
  dataDir: { name: 'STOCKADE_DATA_DIR', kind: path, default: './.data', roles: ['services', 'payments'],
    doc: 'where the embedded local services keep their data' },
  redisCluster: { name: 'STOCKADE_REDIS_CLUSTER', kind: oneOf(['auto', 'on', 'off']), default: 'auto', roles: ['services'],
    doc: 'whether REDIS_URL names a node of a Redis Cluster: auto asks it (INFO cluster) at start' },
  redisClusterMasters: { name: 'STOCKADE_REDIS_CLUSTER_MASTERS', kind: zeroOr(3, 16), defaultDoc: 'what the data dir has (one redis-server when new)',
    roles: ['services'], doc: 'the embedded Redis: 0 one redis-server; N a local Redis Cluster of N masters, a replica each (`stockade start --redis-cluster N`)' },
  redisAppendfsync: { name: 'STOCKADE_REDIS_APPENDFSYNC', kind: oneOf(['everysec', 'always']), default: 'everysec', roles: ['services'],
    doc: "the embedded Redis's AOF fsync" },
  redisMaxmemoryMb: { name: 'STOCKADE_REDIS_MAXMEMORY_MB', kind: int(16, 1_048_576), defaultDoc: "a quarter of the machine's memory, at least 64",
    roles: ['services'], doc: "the embedded Redis's maxmemory (with `noeviction`); an embedded cluster's masters share it, each replica as its master" },
} satisfies Group;

export const logRows = {
  level: { name: 'STOCKADE_LOG_LEVEL', kind: oneOf(logLevels), default: 'info', roles: ['log'], doc: 'pino level' },
  nodeEnv: { name: 'NODE_ENV', kind: text, defaultDoc: 'unset', roles: ['log', 'api'],
    doc: '`production`: tokens required; `development`: pretty logs; any other value means neither' },
} satisfies Group;

/**
 * Tokens published as examples (README, docker-compose) by earlier versions: refused as values,
 * since anyone who read them could use them.
 */
export const publishedTokens: readonly string[] = ['dev-admin-token', 'dev-client-token', 'change-me-admin', 'change-me-client'];

const tokenDefaultDoc = (file: string) => `random per data dir, made at first start in \`<STOCKADE_DATA_DIR>/${file}\` (0600; \`cat\` it to read it again); `
  + 'required when `NODE_ENV=production` or `STOCKADE_HOST` is not a loopback address, by processes that serve HTTP (`stockade workers` serves none)';

/**
 * The rate limits in force when NODE_ENV=production and the variables are unset.
 * Per token: the storefront backend calls with one client token for all its
 * shoppers, so it is high (about twice what one 2-core stack serves, ~2,700
 * holds/s), a brake on a runaway or leaked token rather than a quota. Per user:
 * a shopper makes a few reservations a second at most; a script reusing one
 * user_id is slowed to that.
 */
export const productionRateLimits = { tokenPerSec: 5_000, userPerSec: 5 };

export const apiRows = {
  port: { name: 'PORT', kind: int(0, 65_535), default: 8080, roles: ['api'], doc: 'HTTP port of the API' },
  host: { name: 'STOCKADE_HOST', kind: host, default: '127.0.0.1', roles: ['api'],
    doc: 'address the API binds; a non-loopback address requires both tokens set' },
  adminToken: { name: 'STOCKADE_ADMIN_TOKEN', kind: secret, defaultDoc: tokenDefaultDoc('admin.token'),
    roles: ['api'], doc: 'bearer token for admin routes' },
  clientToken: { name: 'STOCKADE_CLIENT_TOKEN', kind: secret, defaultDoc: tokenDefaultDoc('client.token'), roles: ['api'],
    doc: 'bearer token for reservation and order routes (must differ from the admin token)' },
  processes: { name: 'STOCKADE_API_PROCESSES', kind: int(1, 64), default: 1, roles: ['api'], doc: 'API processes sharing the port' },
  shutdownGraceMs: { name: 'STOCKADE_SHUTDOWN_GRACE_MS', kind: int(0), default: 10_000, roles: ['api'],
    doc: 'how long shutdown waits for requests in flight' },
  rateLimitTokenPerSec: { name: 'STOCKADE_RATE_LIMIT_TOKEN_PER_S', kind: int(0),
    defaultDoc: `${productionRateLimits.tokenPerSec.toLocaleString('en-US')} when \`NODE_ENV=production\`, else 0`, roles: ['api'],
    doc: 'requests per second per token (0: off)' },
  rateLimitUserPerSec: { name: 'STOCKADE_RATE_LIMIT_USER_PER_S', kind: int(0),
    defaultDoc: `${productionRateLimits.userPerSec} when \`NODE_ENV=production\`, else 0`, roles: ['api'],
    doc: 'reservations per second per user_id (0: off)' },
  connectionsMax: { name: 'STOCKADE_CONNECTIONS_MAX', kind: int(1, 10_000_000),
    defaultDoc: 'the soft descriptor limit (raised to the hard one at start) less a tenth, at least 256, for Redis, PostgreSQL and files',
    roles: ['api'], doc: 'open connections per API process; more are closed at once, unanswered' },
  opsPort: { name: 'STOCKADE_OPS_PORT', kind: int(0, 65_535), defaultDoc: 'unset: no ops listener', roles: ['api'],
    doc: 'port of the ops listener (`/healthz`, `/readyz` with detail, `/metrics`, no token): probes that a flooded API port does not blind' },
  opsHost: { name: 'STOCKADE_OPS_HOST', kind: host, default: '127.0.0.1', roles: ['api'],
    doc: 'address the ops listener binds (it asks no token: keep it off public networks)' },
  readinessRefreshMs: { name: 'STOCKADE_READINESS_REFRESH_MS', kind: int(100, 60_000), default: 1_000, roles: ['api'],
    doc: 'how often each API process checks Redis, PostgreSQL and the outbox for `/readyz` and `/metrics` (a probe reads the last check)' },
  benchRoutes: { name: 'STOCKADE_BENCH_ROUTES', kind: oneOf(['false', 'true']), default: 'false', roles: ['api'],
    doc: "serve the benchmark suite's routes (/bench/…): never in production" },
} satisfies Group;

export const paymentRows = {
  paymentTimeoutMs: { name: 'STOCKADE_PAYMENT_TIMEOUT_MS', kind: int(10), default: 5_000, roles: ['payments'],
    doc: 'how long confirm waits for the payment provider' },
  paymentLatencyMs: { name: 'STOCKADE_PAYMENT_LATENCY_MS', kind: int(0), default: 0, roles: ['payments'],
    doc: "the simulated provider's added latency" },
  paymentFailureRate: { name: 'STOCKADE_PAYMENT_FAILURE_RATE', kind: number(0, 1), default: 0, roles: ['payments'],
    doc: 'share of `tok_ok` charges the simulated provider declines' },
  providerDir: { name: 'STOCKADE_PROVIDER_DIR', kind: path, defaultDoc: '`<STOCKADE_DATA_DIR>/provider`', roles: ['payments'],
    doc: 'where the simulated payment provider keeps its charge records' },
  crashPoints: { name: 'STOCKADE_CRASH_POINTS', kind: crashPoints(crashPointNames), defaultDoc: 'unset: none',
    roles: ['payments'], doc: 'the fault harness only (`stockade chaos`), never in production: crash (SIGKILL) at these points with these probabilities' },
} satisfies Group;

export const workerRows = {
  // Inserts are cut by bind parameters (store/writes.ts), so any batch fits in its statements; the bound
  // keeps one transaction small: 800 orders of 100 lines are 80,000 item rows, written in 1.5 s here.
  batchMax: { name: 'STOCKADE_OUTBOX_BATCH_MAX', kind: int(1, 800), default: 500, roles: ['workers'],
    doc: 'outbox entries written per transaction (inserts are cut by bind parameters, so any cart size fits)' },
  concurrency: { name: 'STOCKADE_WORKER_CONCURRENCY', kind: int(1, 64), default: 4, roles: ['workers'],
    doc: 'drain jobs one worker process runs at once' },
  pollMs: { name: 'STOCKADE_OUTBOX_POLL_MS', kind: int(5, 60_000), default: 50, roles: ['workers'],
    doc: 'how often workers look for outboxes with entries' },
  lockMs: { name: 'STOCKADE_WORKER_LOCK_MS', kind: int(1_000, 600_000), default: 10_000, roles: ['workers'],
    doc: "a drain or sweep job's lock: a killed worker's job is taken over after it" },
  failedRetryMs: { name: 'STOCKADE_WORKER_FAILED_RETRY_MS', kind: int(100, 3_600_000), default: 30_000, roles: ['workers'],
    doc: 'how long a drain job out of attempts stays failed before it runs again' },
  parkAfterAttempts: { name: 'STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS', kind: int(1, drainAttempts), default: 3, roles: ['workers'],
    doc: "the drain job's attempt on which a batch that fails permanently is split and the entries that still fail are parked" },
  parkedRetryMs: { name: 'STOCKADE_PARKED_RETRY_MS', kind: int(100, 86_400_000), default: 60_000, roles: ['workers'],
    doc: 'how often parked outbox entries are tried again' },
  shutdownDrainMs: { name: 'STOCKADE_SHUTDOWN_DRAIN_MS', kind: int(0, 600_000), default: 5_000, roles: ['workers'],
    doc: 'how long a stop (SIGINT/SIGTERM) lets write-through carry the outbox to PostgreSQL before it stops the workers; what is left is written after the next start' },
} satisfies Group;

export const engineRows = {
  partitions: { name: 'STOCKADE_PARTITIONS', kind: int(1, 4096), default: 64, roles: ['engine'],
    doc: 'stock partitions (hash slots); fixed at install' },
  keyShards: { name: 'STOCKADE_KEY_SHARDS', kind: int(1, 1024), default: 1, roles: ['engine'],
    doc: 'shards of the idempotency-key index (one claim call per shard per event-loop turn: 1 on a single Redis, more to spread keys over a Cluster)' },
  keyPrefix: { name: 'STOCKADE_KEY_PREFIX', kind: text, default: 'stk:', roles: ['engine'], doc: 'prefix of every Redis key' },
  holdTtlMsDefault: { name: 'STOCKADE_HOLD_TTL_MS_DEFAULT', kind: int(1), default: 600_000, roles: ['engine'],
    doc: 'hold TTL when a request names none (between the min and the max)' },
  holdTtlMsMin: { name: 'STOCKADE_HOLD_TTL_MS_MIN', kind: int(1), default: 1_000, roles: ['engine', 'api'], doc: 'smallest ttl_ms accepted' },
  holdTtlMsMax: { name: 'STOCKADE_HOLD_TTL_MS_MAX', kind: int(1), default: 900_000, roles: ['engine', 'api'],
    doc: 'largest ttl_ms accepted: the longest a hold can pin units (the hoarding bound, with the per-user limits)' },
  paymentWindowMs: { name: 'STOCKADE_PAYMENT_WINDOW_MS', kind: int(1_000), default: 120_000, roles: ['engine'],
    doc: 'deadline of a hold once payment begins' },
  voidRecheckMs: { name: 'STOCKADE_VOID_RECHECK_MS', kind: int(1_000), default: 300_000, roles: ['engine', 'reconciler'],
    doc: 'how long after voiding an overdue payment the recovery asks the provider again (a capture a provider let through despite the void is refunded then)' },
  batchSizeMax: { name: 'STOCKADE_BATCH_SIZE_MAX', kind: int(1, 1024), default: 128, roles: ['engine'], doc: 'requests per script call (group commit)' },
  inflightMax: { name: 'STOCKADE_INFLIGHT_MAX', kind: int(1), default: 20_000, roles: ['engine'],
    doc: 'batched requests queued or in flight before `OVERLOADED`' },
  reclaimWorkMax: { name: 'STOCKADE_RECLAIM_WORK_MAX', kind: int(0, 100_000), default: 256, roles: ['engine'],
    doc: 'work (a hold record read or a line moved each) a reserve call spends first on expiring due holds of any SKU' },
  reclaimSkuWorkMax: { name: 'STOCKADE_RECLAIM_SKU_WORK_MAX', kind: int(1, 100_000), default: 2_048, roles: ['engine'],
    doc: 'work a reserve call spends on expiring due holds of the SKUs it is short of before refusing (past it, the request is sent again)' },
  expireWorkMax: { name: 'STOCKADE_EXPIRE_WORK_MAX', kind: int(1, 1_000_000), default: 10_000, roles: ['reconciler'],
    doc: 'work (a hold record read or a line moved each) one sweep step spends expiring due holds' },
  purgeGroupsMax: { name: 'STOCKADE_PURGE_GROUPS_MAX', kind: int(1, 1024), default: 32, roles: ['reconciler'],
    doc: 'record groups past retention one purge step deletes' },
  idempotencyRetentionMs: { name: 'STOCKADE_IDEMPOTENCY_RETENTION_MS', kind: int(1_000), default: 86_400_000, roles: ['engine'],
    doc: 'how long an Idempotency-Key is remembered' },
  cartLinesMax: { name: 'STOCKADE_CART_LINES_MAX', kind: int(1, 100), default: 20, roles: ['engine', 'api'], doc: 'lines in one reservation' },
  qtyMax: { name: 'STOCKADE_QTY_MAX', kind: int(1), default: 1000, roles: ['engine', 'api'], doc: 'units in one line' },
  outboxLengthMax: { name: 'STOCKADE_OUTBOX_LENGTH_MAX', kind: int(1), default: 100_000, roles: ['engine'],
    doc: 'outbox entries per partition past which new holds are refused (503) until write-through catches up' },
  sweepIntervalMs: { name: 'STOCKADE_SWEEP_INTERVAL_MS', kind: int(10), default: 1_000, roles: ['reconciler'],
    doc: 'how often the sweeps expire due holds and purge old records (once per interval across every process that runs workers)' },
  sweepBudgetMs: { name: 'STOCKADE_SWEEP_BUDGET_MS', kind: int(0, 60_000), default: 1_000, roles: ['reconciler'],
    doc: 'time one sweep pass may spend repeating expiry steps on partitions with holds still due; past it, each partition left gets one step' },
  recoveryHoldsMax: { name: 'STOCKADE_RECOVERY_HOLDS_MAX', kind: int(1, 10_000), default: 100, roles: ['reconciler'],
    doc: 'overdue payments per partition one recovery pass settles (and voided holds it looks at again)' },
  memoryHighWatermarkPct: { name: 'STOCKADE_MEMORY_HIGH_WATERMARK_PCT', kind: int(1, 100), default: 85, roles: ['engine'],
    doc: 'share of Redis maxmemory past which new holds and idempotency claims are refused (503 overloaded); the rest is headroom for confirms, commits, releases and expiries' },
  memoryCheckMs: { name: 'STOCKADE_MEMORY_CHECK_MS', kind: int(10, 60_000), default: 100, roles: ['engine'],
    doc: 'how often the engine reads Redis memory (`INFO memory`), at most' },
  cartReplayWaitMs: { name: 'STOCKADE_CART_REPLAY_WAIT_MS', kind: int(0), default: 2_000, roles: ['engine'],
    doc: 'how long a replay waits for a multi-partition cart in progress' },
  redisLossWindowMs: { name: 'STOCKADE_REDIS_LOSS_WINDOW_MS', kind: int(1_000, 3_600_000), default: 60_000, roles: ['engine'],
    doc: 'after redis-server restarts (or a replica is promoted), how far back the payment provider\'s captures are compared with its holds before a partition grants again: the most acknowledged writes it may have lost, plus the payment timeout' },
  overdueSweepIntervalMs: { name: 'STOCKADE_OVERDUE_SWEEP_INTERVAL_MS', kind: int(10), default: 1_000, roles: ['reconciler'], doc: 'how often the sweeps finish overdue payments (settle holds stuck paying past their deadline)' },
  verifyIntervalMs: { name: 'STOCKADE_VERIFY_INTERVAL_MS', kind: int(1_000, 86_400_000), default: 60_000, roles: ['reconciler'],
    doc: 'how often the sweeps run `reconcile verify` (its result is in /metrics: `stockade_verify_*`)' },
  soldOutCacheMs: { name: 'STOCKADE_SOLD_OUT_CACHE_MS', kind: int(0, 100), default: 100, roles: ['engine'],
    doc: 'how long a process that saw a SKU sold out refuses it without asking Redis (0: never); units freed clear it sooner (pub/sub)' },
} satisfies Group;

/** Every setting, in the README's order. */
export const registry: readonly Setting[] = [serviceRows, logRows, apiRows, paymentRows, workerRows, engineRows]
  .flatMap((group) => Object.values(group) as Setting[]);
