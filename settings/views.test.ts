import { describe, expect, it } from 'vitest';
import { StockadeError } from '../common/errors.ts';
import { effectiveSettings } from './load.ts';
import {
  apiSettings, checkSettings, drainAttempts, engineSettings, logSettings, paymentSettings, processRoles, serviceSettings, workerDefaults,
  workerSettings,
} from './views.ts';

/** The message of the INVALID_SETTING that `read` stops with. */
function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(StockadeError);
    expect((error as StockadeError).code).toBe('INVALID_SETTING');
    return (error as Error).message;
  }
  throw new Error('the settings were accepted');
}

it('parking settings: defaults, the environment, and bounds that name the variable', () => {
  expect(workerSettings({})).toEqual(workerDefaults);
  expect(workerDefaults).toMatchObject({ parkAfterAttempts: 3, parkedRetryMs: 60_000 });
  const s = workerSettings({ STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS: '1', STOCKADE_PARKED_RETRY_MS: '100' });
  expect(s).toMatchObject({ parkAfterAttempts: 1, parkedRetryMs: 100 });
  // A drain job makes drainAttempts attempts before it stays failed: parking must come on one of them.
  expect(workerSettings({ STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS: String(drainAttempts) }).parkAfterAttempts).toBe(drainAttempts);
  expect(() => workerSettings({ STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS: String(drainAttempts + 1) })).toThrow(/STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS/);
  expect(() => workerSettings({ STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS: '0' })).toThrow(/STOCKADE_OUTBOX_PARK_AFTER_ATTEMPTS/);
  expect(() => workerSettings({ STOCKADE_PARKED_RETRY_MS: '99' })).toThrow(/STOCKADE_PARKED_RETRY_MS/);
});

describe('limits in production', () => {
  const production = { NODE_ENV: 'production', STOCKADE_ADMIN_TOKEN: 'a', STOCKADE_CLIENT_TOKEN: 'c' };
  it('rate limits are on by default in production, off elsewhere; set ones win (0 is off)', () => {
    expect(apiSettings(production)).toMatchObject({ rateLimitTokenPerSec: 5_000, rateLimitUserPerSec: 5 });
    expect(apiSettings({})).toMatchObject({ rateLimitTokenPerSec: 0, rateLimitUserPerSec: 0 });
    expect(apiSettings({ ...production, STOCKADE_RATE_LIMIT_TOKEN_PER_S: '0', STOCKADE_RATE_LIMIT_USER_PER_S: '0' }))
      .toMatchObject({ rateLimitTokenPerSec: 0, rateLimitUserPerSec: 0 });
    expect(apiSettings({ STOCKADE_RATE_LIMIT_USER_PER_S: '7' }).rateLimitUserPerSec).toBe(7);
  });

  it('a hold pins units for at most 15 minutes by default', () => {
    expect(engineSettings({}).holdTtlMsMax).toBe(900_000);
  });
});

describe('defaults', () => {
  it('are what they were before the registry', () => {
    expect(apiSettings({})).toEqual({ port: 8080, host: '127.0.0.1', adminToken: undefined, clientToken: undefined,
      processes: 1, rateLimitUserPerSec: 0, rateLimitTokenPerSec: 0, paymentTimeoutMs: 5_000, paymentLatencyMs: 0, paymentFailureRate: 0,
      shutdownGraceMs: 10_000, production: false, connectionsMax: undefined, opsPort: undefined, opsHost: '127.0.0.1', readinessRefreshMs: 1_000,
      benchRoutes: false, crashPoints: new Map() });
    expect(workerSettings({})).toEqual({ batchMax: 500, concurrency: 4, pollMs: 50, lockMs: 10_000, failedRetryMs: 30_000,
      parkAfterAttempts: 3, parkedRetryMs: 60_000, shutdownDrainMs: 5_000 });
    expect(serviceSettings({})).toEqual({ redisUrl: undefined, databaseUrl: undefined, dataDir: './.data', redisCluster: 'auto',
      redisAppendfsync: 'everysec', redisMaxmemoryMb: undefined });
    expect(logSettings({})).toEqual({ level: 'info', pretty: false });
    expect(paymentSettings({}).providerDir).toBeUndefined();
    expect(engineSettings({})).toMatchObject({ sweepIntervalMs: 1_000, sweepBudgetMs: 1_000, recoveryHoldsMax: 100 });
  });

  it('an empty variable counts as unset', () => {
    expect(engineSettings({ STOCKADE_PARTITIONS: '' }).partitions).toBe(64);
    expect(serviceSettings({ REDIS_URL: '', STOCKADE_REDIS_APPENDFSYNC: '' })).toMatchObject({ redisUrl: undefined, redisAppendfsync: 'everysec' });
    expect(apiSettings({ STOCKADE_HOST: '' }).host).toBe('127.0.0.1');
  });
});

describe('a bad value of each kind is refused with the variable, its value and what is allowed', () => {
  it('int', () => {
    expect(refusal(() => engineSettings({ STOCKADE_PARTITIONS: 'many' }))).toBe('STOCKADE_PARTITIONS=many is not an integer in [1, 4096]');
    expect(refusal(() => apiSettings({ STOCKADE_SHUTDOWN_GRACE_MS: '-1' }))).toMatch(/^STOCKADE_SHUTDOWN_GRACE_MS=-1 is not an integer >= 0$/);
    expect(refusal(() => serviceSettings({ STOCKADE_REDIS_MAXMEMORY_MB: '8' }))).toMatch(/STOCKADE_REDIS_MAXMEMORY_MB=8 is not an integer in \[16,/);
  });

  it('number in a range', () => {
    expect(apiSettings({ STOCKADE_PAYMENT_FAILURE_RATE: '0.25' }).paymentFailureRate).toBe(0.25);
    expect(refusal(() => apiSettings({ STOCKADE_PAYMENT_FAILURE_RATE: '1.5' }))).toBe('STOCKADE_PAYMENT_FAILURE_RATE=1.5 is not a number in [0, 1]');
    expect(refusal(() => apiSettings({ STOCKADE_PAYMENT_FAILURE_RATE: 'half' }))).toMatch(/STOCKADE_PAYMENT_FAILURE_RATE=half/);
  });

  it('enum', () => {
    expect(logSettings({ STOCKADE_LOG_LEVEL: 'warn' }).level).toBe('warn');
    expect(refusal(() => logSettings({ STOCKADE_LOG_LEVEL: 'loud' })))
      .toBe('STOCKADE_LOG_LEVEL=loud is not one of fatal, error, warn, info, debug, trace, silent');
    expect(serviceSettings({ STOCKADE_REDIS_APPENDFSYNC: 'always' }).redisAppendfsync).toBe('always');
    expect(serviceSettings({ STOCKADE_REDIS_CLUSTER: 'on' }).redisCluster).toBe('on');
    expect(refusal(() => serviceSettings({ STOCKADE_REDIS_CLUSTER: 'yes' }))).toBe('STOCKADE_REDIS_CLUSTER=yes is not one of auto, on, off');
    // Redis also knows `no`; services/redis.ts starts the embedded one with everysec or always only.
    expect(refusal(() => serviceSettings({ STOCKADE_REDIS_APPENDFSYNC: 'no' }))).toBe('STOCKADE_REDIS_APPENDFSYNC=no is not one of everysec, always');
  });

  it('url, with its password masked in the message', () => {
    expect(serviceSettings({ REDIS_URL: 'rediss://:pw@10.0.0.1:6380/2' }).redisUrl).toBe('rediss://:pw@10.0.0.1:6380/2');
    expect(serviceSettings({ DATABASE_URL: 'postgresql://u@db/stockade' }).databaseUrl).toBe('postgresql://u@db/stockade');
    expect(refusal(() => serviceSettings({ REDIS_URL: 'localhost:6379' }))).toMatch(/^REDIS_URL=localhost:6379 is not a URL \(redis:\/\/ or rediss:\/\//);
    const message = refusal(() => serviceSettings({ DATABASE_URL: 'mysql://admin:hunter2@db/x' }));
    expect(message).toMatch(/^DATABASE_URL=mysql:\/\/admin:\*\*\*\*@db\/x is not a URL \(postgres:\/\/ or postgresql:\/\//);
    expect(message).not.toContain('hunter2');
  });

  it('host: an IPv4 or IPv6 literal, or localhost', () => {
    const tokens = { STOCKADE_ADMIN_TOKEN: 'admin-token-1', STOCKADE_CLIENT_TOKEN: 'client-token-1' };
    for (const host of ['127.0.0.1', '0.0.0.0', '::1', '::', 'localhost']) expect(apiSettings({ ...tokens, STOCKADE_HOST: host }).host).toBe(host);
    for (const host of ['example.com', '[::1]', '127.0.0.1:8080', '256.0.0.1']) {
      expect(refusal(() => apiSettings({ STOCKADE_HOST: host }))).toBe(`STOCKADE_HOST=${host} is not an IPv4 or IPv6 address, or localhost`);
    }
  });

  it('secret, whose value is never shown', () => {
    expect(apiSettings({ STOCKADE_ADMIN_TOKEN: 'a-b_c.d~e+f/g=' }).adminToken).toBe('a-b_c.d~e+f/g=');
    for (const token of [' padded', 'has space', 'x'.repeat(256), 'tab\t']) {
      const message = refusal(() => apiSettings({ STOCKADE_ADMIN_TOKEN: token }));
      expect(message).toBe(`STOCKADE_ADMIN_TOKEN=(${token.length} characters, not shown) is not 1..255 visible ASCII characters`);
    }
  });

  it('string and path take any text', () => {
    expect(engineSettings({ STOCKADE_KEY_PREFIX: 'shop a:' }).keyPrefix).toBe('shop a:');
    expect(serviceSettings({ STOCKADE_DATA_DIR: '/var/lib/stockade data' }).dataDir).toBe('/var/lib/stockade data');
  });

  it('every bad value at once', () => {
    const message = refusal(() => checkSettings({ PORT: 'x', STOCKADE_LOG_LEVEL: 'loud', STOCKADE_PARTITIONS: '0' }, processRoles.start));
    for (const name of ['PORT=x', 'STOCKADE_LOG_LEVEL=loud', 'STOCKADE_PARTITIONS=0']) expect(message).toContain(name);
  });
});

describe('rules across settings', () => {
  it('hold TTLs: min <= default <= max, with the variables named', () => {
    expect(refusal(() => engineSettings({ STOCKADE_HOLD_TTL_MS_DEFAULT: '500' }))).toMatch(/min <= default <= max.*STOCKADE_HOLD_TTL_MS_DEFAULT=500/);
  });

  it('the two tokens differ', () => {
    expect(refusal(() => apiSettings({ STOCKADE_ADMIN_TOKEN: 'same', STOCKADE_CLIENT_TOKEN: 'same' }))).toMatch(/must differ/);
  });

  it('a listen address others can reach needs both tokens set, whatever NODE_ENV says; loopback ones may use generated tokens', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', '::ffff:10.0.0.1']) {
      expect(refusal(() => apiSettings({ STOCKADE_HOST: host }))).toBe(`STOCKADE_HOST=${host} is not a loopback address: `
        + 'listening there needs STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN set (generated tokens are for 127.0.0.1 only)');
      expect(refusal(() => apiSettings({ STOCKADE_HOST: host, STOCKADE_ADMIN_TOKEN: 'admin-token-1' }))).toMatch(/needs STOCKADE_CLIENT_TOKEN set/);
      expect(apiSettings({ STOCKADE_HOST: host, STOCKADE_ADMIN_TOKEN: 'admin-token-1', STOCKADE_CLIENT_TOKEN: 'client-token-1' }).host).toBe(host);
    }
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', 'localhost', '::ffff:127.0.0.1']) {
      expect(apiSettings({ STOCKADE_HOST: host })).toMatchObject({ host, adminToken: undefined, clientToken: undefined });
    }
  });

  it('the example tokens earlier versions published are refused as values', () => {
    for (const [name, token] of [['STOCKADE_ADMIN_TOKEN', 'dev-admin-token'], ['STOCKADE_CLIENT_TOKEN', 'dev-client-token'],
      ['STOCKADE_ADMIN_TOKEN', 'change-me-admin'], ['STOCKADE_CLIENT_TOKEN', 'change-me-client']] as const) {
      const message = refusal(() => apiSettings({ [name]: token }));
      expect(message).toBe(`${name} is an example token published with Stockade: choose your own (e.g. openssl rand -base64 32)`);
      expect(message).not.toContain(token);
    }
  });
});

describe('each role checks only what it uses', () => {
  const production = { NODE_ENV: 'production' };

  it('a process that serves HTTP needs both tokens in production', () => {
    expect(refusal(() => apiSettings(production))).toMatch(/NODE_ENV=production needs STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN/);
    expect(refusal(() => apiSettings({ ...production, STOCKADE_ADMIN_TOKEN: 'a' }))).toMatch(/needs STOCKADE_CLIENT_TOKEN \(/);
    expect(apiSettings({ ...production, STOCKADE_ADMIN_TOKEN: 'a', STOCKADE_CLIENT_TOKEN: 'c' })).toMatchObject({ production: true, adminToken: 'a' });
  });

  it("the benchmark's routes are refused in production, and off unless set", () => {
    const tokens = { STOCKADE_ADMIN_TOKEN: 'a', STOCKADE_CLIENT_TOKEN: 'c' };
    expect(refusal(() => apiSettings({ ...production, ...tokens, STOCKADE_BENCH_ROUTES: 'true' })))
      .toBe("NODE_ENV=production refuses STOCKADE_BENCH_ROUTES=true (the benchmark's routes are for benchmarks only)");
    expect(apiSettings({ ...production, ...tokens, STOCKADE_BENCH_ROUTES: 'false' }).benchRoutes).toBe(false);
    expect(apiSettings({ STOCKADE_BENCH_ROUTES: 'true' }).benchRoutes).toBe(true);
    expect(refusal(() => apiSettings({ STOCKADE_BENCH_ROUTES: '1' }))).toBe('STOCKADE_BENCH_ROUTES=1 is not one of false, true');
  });

  it("the fault harness's crash points: parsed, refused when malformed, refused in production (also without HTTP)", () => {
    const tokens = { STOCKADE_ADMIN_TOKEN: 'a', STOCKADE_CLIENT_TOKEN: 'c' };
    expect(apiSettings({}).crashPoints.size).toBe(0);
    expect([...apiSettings({ STOCKADE_CRASH_POINTS: 'after-charge:0.5, after-pg-insert:1' }).crashPoints])
      .toEqual([['after-charge', 0.5], ['after-pg-insert', 1]]);
    for (const bad of ['after-charge', 'after-charge:0', 'after-charge:2', 'nowhere:0.5']) {
      expect(refusal(() => apiSettings({ STOCKADE_CRASH_POINTS: bad }))).toMatch(/^STOCKADE_CRASH_POINTS=/);
    }
    const armed = { ...production, ...tokens, STOCKADE_CRASH_POINTS: 'after-commit:0.1' };
    expect(refusal(() => apiSettings(armed))).toMatch(/NODE_ENV=production refuses STOCKADE_CRASH_POINTS/);
    expect(refusal(() => apiSettings(armed, { servesHttp: false }))).toMatch(/NODE_ENV=production refuses STOCKADE_CRASH_POINTS/);
  });

  it('one that serves none reads neither the tokens nor the other HTTP settings', () => {
    const env = { ...production, PORT: 'x', STOCKADE_HOST: 'example.com' };
    expect(apiSettings(env, { servesHttp: false })).toMatchObject({ port: 8080, host: '127.0.0.1', production: true, adminToken: undefined });
    expect(refusal(() => apiSettings({ ...env, STOCKADE_PAYMENT_TIMEOUT_MS: '1' }, { servesHttp: false }))).toMatch(/^STOCKADE_PAYMENT_TIMEOUT_MS=1 /);
  });

  it('by command', () => {
    const env = { ...production, PORT: 'x', STOCKADE_OUTBOX_BATCH_MAX: '0', STOCKADE_BATCH_SIZE_MAX: 'big' };
    expect(refusal(() => checkSettings(env, processRoles.workers))).toBe('STOCKADE_BATCH_SIZE_MAX=big is not an integer in [1, 1024]; '
      + 'STOCKADE_OUTBOX_BATCH_MAX=0 is not an integer in [1, 800]');
    const start = refusal(() => checkSettings(env, processRoles.start));
    expect(start).toMatch(/needs STOCKADE_ADMIN_TOKEN/);
    expect(start).toMatch(/STOCKADE_OUTBOX_BATCH_MAX=0/);
    expect(() => checkSettings({ ...env, STOCKADE_BATCH_SIZE_MAX: '' }, processRoles.reconcile)).not.toThrow();
    expect(() => checkSettings({ ...env, STOCKADE_PARTITIONS: '0' }, processRoles.services)).not.toThrow();
  });
});

it('the settings in force mask tokens and passwords, and say where each value came from', () => {
  const env = { STOCKADE_ADMIN_TOKEN: 's3cret', REDIS_URL: 'redis://user:pw@127.0.0.1:6379', PORT: '9000' };
  const shown = Object.fromEntries(effectiveSettings(env, processRoles.start).map((s) => [s.name, s]));
  expect(shown.STOCKADE_ADMIN_TOKEN).toMatchObject({ value: '****', source: 'environment' });
  expect(shown.STOCKADE_CLIENT_TOKEN).toMatchObject({ value: null, source: 'default', default: expect.stringContaining('random per data dir') });
  expect(shown.REDIS_URL).toMatchObject({ value: 'redis://user:****@127.0.0.1:6379', source: 'environment', roles: ['services'] });
  expect(shown.DATABASE_URL).toMatchObject({ value: null, source: 'default', default: 'unset: start a local PostgreSQL' });
  expect(shown.PORT).toMatchObject({ value: 9000, source: 'environment', allowed: 'an integer in [0, 65535]' });
  expect(JSON.stringify(shown)).not.toMatch(/s3cret|:pw@/);
  expect(Object.keys(Object.fromEntries(effectiveSettings(env, processRoles.services).map((s) => [s.name, s])))).not.toContain('PORT');
});
