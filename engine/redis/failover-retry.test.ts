import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lostReply, type Engine, type FaultHooks } from '../index.ts';
import { skusInDistinctPartitions, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';
import { isRedisUnavailable, retryThroughFailover } from './failover-retry.ts';

// Issue #16 item 3: on a Redis Cluster, a batch of reserveHolds or claimKeys that a failover failed is sent again
// (bounded) instead of failing every request in it. The batch may have run before its reply was lost: the resend must
// find what it did (its ids) and hold nothing twice. Runs in the cluster pass (the engine retries on a cluster only).

describe('retryThroughFailover', () => {
  it('sends again while Redis is unavailable, within the window after the first failure; any other error at once', async () => {
    let calls = 0;
    expect(await retryThroughFailover(async () => { if (++calls < 3) throw lostReply('x'); return 'ok'; }, 5_000)).toBe('ok');
    expect(calls).toBe(3);

    calls = 0;
    await expect(retryThroughFailover(async () => { calls++; throw new Error('ERR wrong number of arguments'); }, 5_000)).rejects.toThrow(/wrong number/);
    expect(calls).toBe(1);

    calls = 0;
    const started = Date.now();
    await expect(retryThroughFailover(async () => { calls++; throw new Error('CLUSTERDOWN The cluster is down'); }, 1_000)).rejects.toThrow(/CLUSTERDOWN/);
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('knows what a failover looks like, and what it does not', () => {
    for (const message of ['Too many Cluster redirections. Last error: ReplyError: MOVED 7303 127.0.0.1:43921', 'None of startup nodes is available',
      'Failed to refresh slots cache.', 'CLUSTERDOWN The cluster is down', 'TRYAGAIN Multiple keys request during rehashing of slot',
      'Command timed out', 'Connection is closed.']) expect(isRedisUnavailable(new Error(message)), message).toBe(true);
    for (const message of ['NOSCRIPT No matching script', 'ERR Error running script', 'OOM command not allowed', 'NOPERM']) {
      expect(isRedisUnavailable(new Error(message)), message).toBe(false);
    }
  });
});

/** Fails the first `times` calls of each script in `names`: before it runs, or after (the reply dropped). */
function failing(names: string[], times: number, when: 'before' | 'after'): FaultHooks & { failed: () => number } {
  const seen = new Map<string, number>();
  let failed = 0;
  const maybeFail = (name: string) => {
    if (!names.includes(name)) return;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    if (n > times) return;
    failed++;
    throw when === 'after' ? lostReply(name) : new Error('Too many Cluster redirections. Last error: Error: connect ECONNREFUSED');
  };
  return {
    failed: () => failed,
    ...(when === 'before' ? { beforeScript: maybeFail } : { afterScript: maybeFail }),
  };
}

describe.each(['after', 'before'] as const)('a batch failed %s it ran is sent again', (when) => {
  let engine: Engine;
  let close: () => Promise<void>;
  const faults = failing(['reserveHolds', 'claimKeys'], 6, when);
  beforeAll(() => ({ engine, close } = testEngine({}, faults)));
  afterAll(() => close());

  it('every request is answered once, held once: single holds, carts over partitions, with and without keys', async () => {
    if (!engine.clusterNodes()) return expect(engine.clusterNodes()).toBeNull(); // one redis-server: no retry (the main pass)
    const [hot] = skusInOnePartition(engine, `fr${when}`, 1);
    const spread = skusInDistinctPartitions(engine, `fs${when}`, 3);
    for (const sku of [hot!, ...spread]) await engine.createProduct({ sku, name: sku, priceCents: 10, stock: 1_000 });
    const requests = Array.from({ length: 60 }, (_, i) => ({
      userId: `u${i}`,
      items: i % 3 === 0 ? [{ sku: spread[0]!, qty: 1 }, { sku: spread[1]!, qty: 2 }, { sku: spread[2]!, qty: 1 }] : [{ sku: hot!, qty: 2 }],
      ...(i % 2 === 0 ? { idempotencyKey: `fk-${when}-${i}` } : {}),
    }));
    const outcomes = await Promise.all(requests.map((req) => engine.reserve(req)));
    expect(faults.failed()).toBeGreaterThan(0);
    expect(outcomes.map((o) => o.kind)).toEqual(requests.map(() => 'held'));
    const ids = outcomes.map((o) => (o.kind === 'held' ? o.reservation.id : ''));
    expect(new Set(ids).size).toBe(ids.length);
    // Held once: each SKU's reserved units are what the answered requests asked for.
    const asked = new Map<string, number>();
    for (const req of requests) for (const item of req.items) asked.set(item.sku, (asked.get(item.sku) ?? 0) + item.qty);
    for (const [sku, units] of asked) expect((await stockOf(engine, sku)).reserved, sku).toBe(units);
    // A key sent again is a replay of the reservation it got, not another one.
    const again = await engine.reserve(requests[0]!);
    expect(again).toMatchObject({ kind: 'duplicate', of: { kind: 'held', reservation: { id: ids[0] } } });
  });
});
