import { describe, expect, it } from 'vitest';
import { IdMaker, isOrderId, newOrderId, partitionOfId, randomText } from './ids.ts';
import { longestCommonSubstring } from '../../test/support/ids.ts';

// Issue #11 item 6 (OWASP API1): an id is no handle on its neighbours. Ids of
// one process, made one after another, share nothing beyond the partition
// they name; their random part carries at least 96 bits.

const randomPartOf = (id: string) => id.slice(id.indexOf('.') + 1);

describe('reservation ids', () => {
  const count = 10_000;
  const maker = new IdMaker();
  const ids = Array.from({ length: count }, () => maker.next(17));

  it('carry at least 96 random bits beside their partition, in URL- and path-safe characters', () => {
    expect(ids.filter((id) => !/^17\.[a-z2-7]+$/.test(id))).toEqual([]);
    const alphabet = new Set(ids.flatMap((id) => [...randomPartOf(id)]));
    expect(alphabet.size).toBe(32);
    expect(Math.min(...ids.map((id) => randomPartOf(id).length)) * Math.log2(alphabet.size)).toBeGreaterThanOrEqual(96);
    expect(new Set(ids).size).toBe(count);
  });

  it(`${count} consecutive ids of one process share no part beyond the partition`, () => {
    let sharedMax = 0;
    for (let i = 1; i < count; i++) sharedMax = Math.max(sharedMax, longestCommonSubstring(randomPartOf(ids[i - 1]!), randomPartOf(ids[i]!)));
    // Independent 24-character texts share 8 characters in a row about once in 10^9 pairs; a process tag shares 12.
    expect(sharedMax).toBeLessThan(8);
  });

  it('every position varies (no fixed tag, no counter), every character about equally often', () => {
    const perPosition = Array.from({ length: randomPartOf(ids[0]!).length }, () => new Set<string>());
    const tally = new Map<string, number>();
    for (const id of ids) {
      [...randomPartOf(id)].forEach((c, i) => {
        perPosition[i]!.add(c);
        tally.set(c, (tally.get(c) ?? 0) + 1);
      });
    }
    for (const seen of perPosition) expect(seen.size).toBe(32);
    // 240,000 characters over 32: 7,500 each, standard deviation about 85.
    const expected = (count * perPosition.length) / 32;
    for (const n of tally.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.1);
  });

  it('name their partition, in both formats: ids made now and ids made before ids were random', () => {
    const maker = new IdMaker();
    for (let p = 0; p < 64; p++) expect(partitionOfId(maker.next(p), 64)).toBe(p);
    // The old format: a 12-character base-36 process tag and a base-36 counter (holds still in Redis after an upgrade).
    for (const [old, p] of [['17.0k3m9x2p1qz41', 17], ['0.abcdefghij01zz', 0], ['63.9zzzzzzzzzzzzzzzz', 63]] as const) {
      expect(partitionOfId(old, 64), old).toBe(p);
    }
    for (const bad of ['', 'x', `64.${randomText()}`, `1.${randomText().toUpperCase()}`, `-1.${randomText()}`, `1.${randomText()}\n`, '1.short']) {
      expect(partitionOfId(bad, 64), bad).toBe(-1);
    }
  });
});

describe('order ids', () => {
  it('are random, of either format when read, and never a reservation id', () => {
    const made = Array.from({ length: 1_000 }, newOrderId);
    expect(new Set(made).size).toBe(1_000);
    for (const id of made) {
      expect(id).toMatch(/^o[a-z2-7]{24}$/);
      expect(isOrderId(id)).toBe(true);
    }
    expect(isOrderId('o17.0k3m9x2p1qz41')).toBe(true); // "o" + an old reservation id, still in PostgreSQL
    for (const bad of ['', 'o', '17.0k3m9x2p1qz41', new IdMaker().next(3), `o${randomText(23)}`, `O${randomText()}`, `o${randomText()}x`]) {
      expect(isOrderId(bad), bad).toBe(false);
    }
  });
});

describe('request ids', () => {
  it('random text: two calls share no run of 8 characters', () => {
    const texts = Array.from({ length: 1_000 }, () => randomText());
    for (let i = 1; i < texts.length; i++) expect(longestCommonSubstring(texts[i - 1]!, texts[i]!)).toBeLessThan(8);
  });
});
