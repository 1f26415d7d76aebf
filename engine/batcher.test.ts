import { describe, expect, it } from 'vitest';
import { GroupCommit } from './batcher.ts';

/** A sink that records each call and answers each request with its own echo. */
function recordingSink() {
  const calls: { group: number; requests: string[] }[] = [];
  const sink = async (group: number, requests: string[]) => {
    calls.push({ group, requests: [...requests] });
    return requests.map((r) => `${group}:${r}`);
  };
  return { calls, sink };
}

describe('GroupCommit', () => {
  it('sends requests of one group arriving in one turn as one call, in arrival order', async () => {
    const { calls, sink } = recordingSink();
    const batcher = new GroupCommit(sink, { batchSizeMax: 100, inflightMax: 1000 });
    const results = await Promise.all(['a', 'b', 'c'].map((r) => batcher.submit(7, r)));
    expect(results).toEqual(['7:a', '7:b', '7:c']);
    expect(calls).toEqual([{ group: 7, requests: ['a', 'b', 'c'] }]);
  });

  it('keeps groups apart and later turns in later calls', async () => {
    const { calls, sink } = recordingSink();
    const batcher = new GroupCommit(sink, { batchSizeMax: 100, inflightMax: 1000 });
    await Promise.all([batcher.submit(1, 'x'), batcher.submit(2, 'y'), batcher.submit(1, 'z')]);
    await batcher.submit(1, 'later');
    expect(calls).toEqual([
      { group: 1, requests: ['x', 'z'] },
      { group: 2, requests: ['y'] },
      { group: 1, requests: ['later'] },
    ]);
  });

  it('never sends more than batchSizeMax in one call', async () => {
    const { calls, sink } = recordingSink();
    const batcher = new GroupCommit(sink, { batchSizeMax: 4, inflightMax: 1000 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(0, String(i))));
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => `0:${i}`));
    expect(calls.map((c) => c.requests.length)).toEqual([4, 4, 2]);
    expect(calls.flatMap((c) => c.requests)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
  });

  it('refuses with OVERLOADED past inflightMax, and recovers once calls finish', async () => {
    const { sink } = recordingSink();
    const batcher = new GroupCommit(sink, { batchSizeMax: 100, inflightMax: 3 });
    const first = [1, 2, 3].map((i) => batcher.submit(0, String(i)));
    await expect(batcher.submit(0, 'x')).rejects.toMatchObject({ code: 'OVERLOADED' });
    await Promise.all(first);
    await new Promise((r) => setImmediate(r));
    expect(batcher.pending).toBe(0);
    await expect(batcher.submit(0, 'y')).resolves.toBe('0:y');
  });

  it('rejects every caller of a failed call and none of another', async () => {
    const batcher = new GroupCommit<string, string>(async (group, reqs) => {
      if (group === 1) throw new Error('connection lost');
      return reqs;
    }, { batchSizeMax: 100, inflightMax: 100 });
    const results = await Promise.allSettled([batcher.submit(1, 'a'), batcher.submit(1, 'b'), batcher.submit(2, 'c')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });
});
