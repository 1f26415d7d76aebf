import { describe, expect, it } from 'vitest';
import { fnv1a, partitionOf, shardOf } from './partition.ts';
import { IdMaker, partitionOfId } from '../holds/ids.ts';

describe('partitions', () => {
  it('FNV-1a matches its published test vectors', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });
  it('spreads SKUs over every partition, and always the same way', () => {
    const counts = new Array(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[partitionOf(`SKU-${i}`, 64)] += 1;
    expect(Math.min(...counts)).toBeGreaterThan(700);
    expect(Math.max(...counts)).toBeLessThan(1300);
    expect(partitionOf('SKU-1', 64)).toBe(partitionOf('SKU-1', 64));
    expect(shardOf('key', 8)).toBeLessThan(8);
  });
});

describe('reservation ids', () => {
  it('name their partition and are unique', () => {
    const maker = new IdMaker();
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = maker.next(i % 64);
      expect(partitionOfId(id, 64)).toBe(i % 64);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
    expect(new IdMaker().next(1)).not.toBe(new IdMaker().next(1));
  });
  it('refuse anything else', () => {
    for (const bad of ['', 'x', '64.aaaaaaaaaaaaaa', '1.short', '1.AAAAAAAAAAAAAA', '-1.aaaaaaaaaaaaaa', '1.aaaaaaaaaaaaaa\n', '__proto__']) {
      expect(partitionOfId(bad, 64), bad).toBe(-1);
    }
  });
});
