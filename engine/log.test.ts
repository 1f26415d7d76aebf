import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, expect, inject, it } from 'vitest';
import { createLogger } from './log.ts';

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
afterAll(() => redis.quit());

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { log: createLogger('log-test', 'info', stream), lines };
}

it("a failed Redis call's error keeps the command name, not its arguments (Idempotency-Keys, user ids)", async () => {
  const { log, lines } = capture();
  const error = await redis.eval("return redis.error_reply('ERR refused')", 1, 'idem-key-7f3a', 'user-alice-9').catch((e: unknown) => e);
  expect((error as { command?: { args: unknown[] } }).command?.args).toContain('idem-key-7f3a'); // what ioredis puts on the error
  log.warn({ err: error }, 'dependency unavailable');
  const text = lines.join('');
  expect(text).toContain('"name":"eval"');
  expect(text).toContain('ERR refused');
  expect(text).not.toMatch(/idem-key-7f3a|user-alice-9/);
});

it("masks a URL's password wherever a logged string holds one, and redacts payment tokens", () => {
  const { log, lines } = capture();
  log.info({ redis: 'redis://stockade:s3cretpw@127.0.0.1:6390', nested: { note: 'via postgres://app:pgpw@db:5432/x then' }, payment: { token: 'tok_card' } }, 'ready');
  log.error({ err: new Error('connect to postgres://app:errpw@db:5432/x failed') }, 'failed');
  const text = lines.join('');
  expect(text).not.toMatch(/s3cretpw|pgpw|errpw|tok_card/);
  expect(text).toContain('redis://stockade:****@127.0.0.1:6390');
  expect(text).toContain('postgres://app:****@db:5432/x');
});
