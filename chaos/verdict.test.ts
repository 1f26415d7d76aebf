import { describe, expect, it } from 'vitest';
import { newLedger } from './buyers.ts';
import { idempotentAgainstLedger } from './verdict.ts';

describe('I against the ledger: a key answered two reservations', () => {
  const conflict = (aAtMs: number, bAtMs: number) => {
    const ledger = newLedger();
    ledger.keyConflicts.push({ key: 'r-1', ids: ['A', 'B'], answeredAtMs: { A: aAtMs, B: bAtMs } });
    return ledger;
  };
  const window = { fromMs: 1_000, toMs: 5_000 };

  it('is forgiven when the first was answered in a stretch Redis lost (its claim went with it), though repair recreated it', () => {
    const r = idempotentAgainstLedger(conflict(2_000, 9_000), new Set(), [window]);
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('1 keys answered again');
  });

  it('is forgiven when the first was lost with the data; a violation when both stand outside every lost stretch', () => {
    expect(idempotentAgainstLedger(conflict(500, 9_000), new Set(['A']), [window]).ok).toBe(true);
    const r = idempotentAgainstLedger(conflict(500, 9_000), new Set(), [window]);
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual(['I: key r-1 answered 2 reservations: A, B']);
    expect(idempotentAgainstLedger(conflict(2_000, 9_000), new Set(), []).ok).toBe(false);
  });
});
