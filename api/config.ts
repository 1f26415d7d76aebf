import { intSetting, StockadeError } from '../engine/index.ts';

/** API settings: one defaults table (README "Configuration"). */
export interface ApiSettings {
  port: number;
  host: string;
  adminToken: string;
  clientToken: string;
  /** API processes sharing the port (SO_REUSEPORT). */
  processes: number;
  rateLimitUserPerSec: number;
  rateLimitTokenPerSec: number;
  paymentTimeoutMs: number;
  paymentLatencyMs: number;
  paymentFailureRate: number;
  shutdownGraceMs: number;
  production: boolean;
}

export const devTokens = { admin: 'dev-admin-token', client: 'dev-client-token' };

/** Limits that are part of the HTTP contract (DESIGN.md §4), not settings. */
export const contractLimits = {
  bodyBytesMax: 16 * 1024,
  idempotencyKeyLengthMax: 255,
  tokenLengthMax: 255,
};

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max?: number): number {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : intSetting(name, raw, min, max);
}

/**
 * `servesHttp` false (a workers-only process): the bearer tokens are not
 * needed, so a production start does not ask for them.
 */
export function apiSettings(env: NodeJS.ProcessEnv = process.env, o: { servesHttp?: boolean } = {}): ApiSettings {
  const production = env.NODE_ENV === 'production';
  const missing = ['STOCKADE_ADMIN_TOKEN', 'STOCKADE_CLIENT_TOKEN'].filter((name) => !env[name]);
  if (production && (o.servesHttp ?? true) && missing.length > 0) {
    throw new StockadeError('INVALID_SETTING', `NODE_ENV=production needs ${missing.join(' and ')} (bearer tokens for the API)`);
  }
  const failureRate = Number(env.STOCKADE_PAYMENT_FAILURE_RATE ?? 0);
  if (!(failureRate >= 0 && failureRate <= 1)) {
    throw new StockadeError('INVALID_SETTING', `STOCKADE_PAYMENT_FAILURE_RATE=${env.STOCKADE_PAYMENT_FAILURE_RATE} is not in [0, 1]`);
  }
  const settings: ApiSettings = {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.STOCKADE_HOST || '0.0.0.0',
    adminToken: env.STOCKADE_ADMIN_TOKEN || devTokens.admin,
    clientToken: env.STOCKADE_CLIENT_TOKEN || devTokens.client,
    processes: int(env, 'STOCKADE_API_PROCESSES', 1, 1, 64),
    rateLimitUserPerSec: int(env, 'STOCKADE_RATE_LIMIT_USER_PER_S', 0, 0),
    rateLimitTokenPerSec: int(env, 'STOCKADE_RATE_LIMIT_TOKEN_PER_S', 0, 0),
    paymentTimeoutMs: int(env, 'STOCKADE_PAYMENT_TIMEOUT_MS', 5_000, 10),
    paymentLatencyMs: int(env, 'STOCKADE_PAYMENT_LATENCY_MS', 0, 0),
    paymentFailureRate: failureRate,
    shutdownGraceMs: int(env, 'STOCKADE_SHUTDOWN_GRACE_MS', 10_000, 0),
    production,
  };
  if (settings.adminToken === settings.clientToken) {
    throw new StockadeError('INVALID_SETTING', 'STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN must differ');
  }
  return settings;
}
