import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

/** `stockade …` with exactly this environment (nothing of the test runner's). */
function stockade(args: string[], env: Record<string, string>) {
  const run = spawnSync(process.execPath, ['bin/stockade.mjs', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

it('stockade config prints the settings in force, secrets masked; --json one object', () => {
  const env = { STOCKADE_ADMIN_TOKEN: 's3cret-admin', DATABASE_URL: 'postgres://stockade:hunter2@127.0.0.1:5439/stockade', PORT: '9090' };
  const text = stockade(['config'], env);
  expect(text.status, text.stderr).toBe(0);
  expect(text.stdout).toMatch(/^PORT +9090 +environment +api +HTTP port of the API$/m);
  expect(text.stdout).toMatch(/^STOCKADE_PARTITIONS +64 +default +engine +/m);
  const json = stockade(['config', '--json'], env);
  expect(json.status, json.stderr).toBe(0);
  const settings = JSON.parse(json.stdout);
  expect(settings.STOCKADE_ADMIN_TOKEN).toMatchObject({ value: '****', source: 'environment', roles: ['api'] });
  expect(settings.DATABASE_URL.value).toBe('postgres://stockade:****@127.0.0.1:5439/stockade');
  expect(settings.STOCKADE_HOST).toMatchObject({ value: '127.0.0.1', source: 'default' });
  expect(settings.PORT).toMatchObject({ value: 9090, source: 'environment' });
  for (const out of [text.stdout, json.stdout]) expect(out).not.toMatch(/s3cret|hunter2/);
});

it('a bad value fails config, and stops start and workers before they start anything', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'stockade-config-')), 'data');
  const env = { STOCKADE_LOG_LEVEL: 'loud', STOCKADE_DATA_DIR: dataDir };
  for (const args of [['config'], ['config', '--json'], ['start'], ['workers']]) {
    const run = stockade(args, env);
    expect(run.status, args.join(' ')).toBe(1);
    expect(run.stderr).toContain('stockade: INVALID_SETTING: STOCKADE_LOG_LEVEL=loud is not one of fatal, error, warn, info, debug, trace, silent');
  }
  expect(existsSync(dataDir)).toBe(false);
});

it('config --for workers does not ask a production process that serves no HTTP for the tokens', () => {
  expect(stockade(['config', '--for', 'workers'], { NODE_ENV: 'production' }).status).toBe(0);
  const start = stockade(['config'], { NODE_ENV: 'production' });
  expect(start.status).toBe(1);
  expect(start.stderr).toMatch(/NODE_ENV=production needs STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN/);
});
