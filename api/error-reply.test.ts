import { describe, expect, it } from 'vitest';
import { createLogger } from '../engine/index.ts';
import { errorReply } from './router.ts';

const log = createLogger('test', 'silent');
const reply = (error: unknown) => errorReply(error, 'r1', log);

describe('errorReply: infrastructure failures as problems', () => {
  // What ioredis' Cluster client throws while a master fails over (issue #16: test/failover.test.ts met the first as a 500).
  it.each([
    'Too many Cluster redirections. Last error: ReplyError: MOVED 7303 127.0.0.1:43921',
    'None of startup nodes is available',
    'Failed to refresh slots cache.',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'Command timed out',
  ])('%s: 503 unavailable with Retry-After', (message) => {
    const r = reply(new Error(message));
    expect(r.status).toBe(503);
    expect((r.body as { type: string }).type).toBe('/problems/unavailable');
    expect(Number(r.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('anything else is a 500 that says nothing of its cause', () => {
    const r = reply(new Error('ERR something unexpected in a script: secret detail'));
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toContain('secret');
  });
});
