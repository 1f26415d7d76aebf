import { StockadeError } from '../common/errors.ts';
import type { CrashPoint } from '../common/crash-points.ts';
import { invalidSetting, readGroup, type Env } from './load.ts';
import { isLoopback } from './kinds.ts';
import { apiRows, engineRows, logRows, paymentRows, productionRateLimits, publishedTokens, serviceRows, workerRows, type Role, type Values } from './registry.ts';

export { drainAttempts } from './registry.ts';

/*
 * Each part's typed view of the registry. A view reads only its own settings,
 * so a process checks only what it uses; cross-field rules live here.
 */

export type EngineSettings = Values<typeof engineRows>;
/** The engine's settings as declared (README "Configuration"). */
export const engineSettingRows = engineRows;

/** The engine's settings: the environment over the defaults, then `overrides` (tests, benchmarks). */
export function engineSettings(env: Env = process.env, overrides: Partial<EngineSettings> = {}): EngineSettings {
  const settings = { ...readGroup(env, engineRows), ...overrides };
  if (!(settings.holdTtlMsMin <= settings.holdTtlMsDefault && settings.holdTtlMsDefault <= settings.holdTtlMsMax)) {
    throw invalidSetting([`hold TTLs must satisfy min <= default <= max (${engineRows.holdTtlMsMin.name}=${settings.holdTtlMsMin}, `
      + `${engineRows.holdTtlMsDefault.name}=${settings.holdTtlMsDefault}, ${engineRows.holdTtlMsMax.name}=${settings.holdTtlMsMax})`]);
  }
  return settings;
}

/** API settings, with the payment settings the runtime's checkout saga and provider use. */
export interface ApiSettings {
  port: number;
  host: string;
  /** Unset: the data directory's generated tokens are used (app/tokens.ts), which only a loopback listener outside production may. */
  adminToken?: string;
  clientToken?: string;
  /** API processes sharing the port (SO_REUSEPORT). */
  processes: number;
  /** Rate limits (0: off); unset, they are productionRateLimits' in production and off elsewhere. */
  rateLimitUserPerSec: number;
  rateLimitTokenPerSec: number;
  /** Open connections per API process; undefined: derived from the descriptor limit when the server starts (api/connections.ts). */
  connectionsMax: number | undefined;
  /** The ops listener (/healthz, /readyz with detail, /metrics): undefined, none. */
  opsPort: number | undefined;
  opsHost: string;
  /** How often the readiness state /readyz and /metrics read is refreshed. */
  readinessRefreshMs: number;
  paymentTimeoutMs: number;
  paymentLatencyMs: number;
  paymentFailureRate: number;
  shutdownGraceMs: number;
  production: boolean;
  /** STOCKADE_BENCH_ROUTES: the benchmark suite's /bench/… routes are served (never in production). */
  benchRoutes: boolean;
  /** STOCKADE_CRASH_POINTS: the fault harness's crash points (never in production; empty: none). */
  crashPoints: ReadonlyMap<CrashPoint, number>;
}

/**
 * `servesHttp` false (a workers-only process): the HTTP settings are neither
 * read nor checked (they keep their defaults, which nothing uses), so a
 * production start does not ask for the bearer tokens.
 */
export function apiSettings(env: Env = process.env, o: { servesHttp?: boolean } = {}): ApiSettings {
  const servesHttp = o.servesHttp ?? true;
  const production = readGroup(env, { nodeEnv: logRows.nodeEnv }).nodeEnv === 'production';
  let read;
  const problems: string[] = [];
  try {
    read = servesHttp ? readGroup(env, { ...apiRows, ...paymentRows }) : { ...readGroup({}, apiRows), ...readGroup(env, paymentRows) };
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (servesHttp) problems.unshift(...tokenProblems(env, production), ...benchRoutesProblems(env, production));
  if (production && read?.crashPoints) {
    problems.unshift(`NODE_ENV=production refuses ${paymentRows.crashPoints.name} (the fault harness's crash points are for tests only)`);
  }
  // Every problem at once: the missing tokens and the bad values.
  if (problems.length > 0 || !read) throw invalidSetting(problems);
  const { providerDir: _providerDir, rateLimitTokenPerSec, rateLimitUserPerSec, benchRoutes, crashPoints, ...fields } = read;
  return { ...fields, production, benchRoutes: benchRoutes === 'true', crashPoints: crashPoints ?? new Map(),
    rateLimitTokenPerSec: rateLimitTokenPerSec ?? (production ? productionRateLimits.tokenPerSec : 0),
    rateLimitUserPerSec: rateLimitUserPerSec ?? (production ? productionRateLimits.userPerSec : 0) };
}

/**
 * Generated tokens are for a loopback listener outside production: NODE_ENV=production, or a
 * STOCKADE_HOST others can reach, needs both set. Tokens published as examples are refused
 * everywhere, and the two must differ.
 */
function tokenProblems(env: Env, production: boolean): string[] {
  const names = [apiRows.adminToken.name, apiRows.clientToken.name];
  const missing = names.filter((name) => !env[name]);
  const problems: string[] = [];
  const host = env[apiRows.host.name] || apiRows.host.default;
  if (missing.length > 0 && production) problems.push(`NODE_ENV=production needs ${missing.join(' and ')} (bearer tokens for the API)`);
  else if (missing.length > 0 && apiRows.host.kind.parse(host) !== undefined && !isLoopback(host)) {
    problems.push(`${apiRows.host.name}=${host} is not a loopback address: listening there needs ${missing.join(' and ')} set `
      + '(generated tokens are for 127.0.0.1 only)');
  }
  for (const name of names) {
    if (publishedTokens.includes(env[name] ?? '')) problems.push(`${name} is an example token published with Stockade: choose your own (e.g. openssl rand -base64 32)`);
  }
  if (env[names[0]!] && env[names[0]!] === env[names[1]!]) problems.push(`${names[0]} and ${names[1]} must differ`);
  return problems;
}

/** The benchmark's routes answer without the engine's checks (a canned 201, a baseline outside Stockade's stock): not in production. */
function benchRoutesProblems(env: Env, production: boolean): string[] {
  const name = apiRows.benchRoutes.name;
  return production && env[name] === 'true' ? [`NODE_ENV=production refuses ${name}=true (the benchmark's routes are for benchmarks only)`] : [];
}

export type PaymentSettings = Values<typeof paymentRows>;

export function paymentSettings(env: Env = process.env): PaymentSettings {
  return readGroup(env, paymentRows);
}

/** Write-through worker settings. */
export interface WorkerSettings {
  /** Outbox entries written per transaction (whatever rows they make: inserts are cut by bind parameters). */
  batchMax: number;
  /** Drain jobs one process runs at once (each its own partition). */
  concurrency: number;
  /** How often each process looks for outboxes with entries. */
  pollMs: number;
  /** How long a drain job's lock lasts: a killed worker's job is taken over after it. */
  lockMs: number;
  /** How long a drain job that used up its attempts stays failed (visible) before it is retried. */
  failedRetryMs: number;
  /**
   * The attempt of a drain job on which a batch that fails for good (a reason no retry fixes)
   * is split until the entries that fail are parked, and the rest of the partition drains on.
   */
  parkAfterAttempts: number;
  /** How often parked entries are tried again (in order, one per transaction). */
  parkedRetryMs: number;
  /** How long a stop lets write-through drain the outbox before it stops the workers. */
  shutdownDrainMs: number;
}

export const workerDefaults: WorkerSettings = readGroup({}, workerRows);

export function workerSettings(env: Env = process.env, overrides: Partial<WorkerSettings> = {}): WorkerSettings {
  return { ...readGroup(env, workerRows), ...overrides };
}

/** Where Redis and PostgreSQL are, or how to start the embedded ones. */
export type ServiceSettings = Values<typeof serviceRows>;

export function serviceSettings(env: Env = process.env): ServiceSettings {
  return readGroup(env, serviceRows);
}

/**
 * A command-line flag that stands for a service setting (`--redis-cluster N` for STOCKADE_REDIS_CLUSTER_MASTERS):
 * put in the environment, where the checks, this process's settings and the processes it starts read it.
 */
export function setServiceSetting(key: keyof typeof serviceRows, value: string, env: Env = process.env): void {
  env[serviceRows[key].name] = value;
}

/** STOCKADE_DATA_DIR alone (as given: relative to the working directory). */
export function dataDirSetting(env: Env = process.env): string {
  return readGroup(env, { dataDir: serviceRows.dataDir }).dataDir;
}

export interface LogSettings {
  level: Values<typeof logRows>['level'];
  /** NODE_ENV=development: pino-pretty. */
  pretty: boolean;
}

export function logSettings(env: Env = process.env): LogSettings {
  const { level, nodeEnv } = readGroup(env, logRows);
  return { level, pretty: nodeEnv === 'development' };
}

/** The roles each command plays: what it checks before it starts anything. */
export const processRoles = {
  start: ['log', 'services', 'engine', 'reconciler', 'api', 'payments', 'workers'],
  workers: ['log', 'services', 'engine', 'reconciler', 'payments', 'workers'],
  reconcile: ['log', 'services', 'engine', 'reconciler'],
  services: ['log', 'services'],
} as const satisfies Record<string, readonly Role[]>;

/**
 * Checks every setting the given roles use, with the cross-field rules, and
 * stops with one INVALID_SETTING that names every bad value.
 */
export function checkSettings(env: Env, of: readonly Role[]): void {
  const uses = (...rs: Role[]) => rs.some((r) => of.includes(r));
  const views: [boolean, () => unknown][] = [
    [uses('log'), () => logSettings(env)],
    [uses('services'), () => serviceSettings(env)],
    [uses('engine', 'reconciler'), () => engineSettings(env)],
    [uses('api', 'payments'), () => apiSettings(env, { servesHttp: uses('api') })],
    [uses('workers'), () => workerSettings(env)],
  ];
  const problems: string[] = [];
  for (const [used, view] of views) {
    try {
      if (used) view();
    } catch (error) {
      if (!(error instanceof StockadeError && error.code === 'INVALID_SETTING')) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) throw invalidSetting(problems);
}
