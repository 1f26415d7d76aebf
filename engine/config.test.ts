import { describe, expect, it } from 'vitest';
import { engineSettings, engineSettingRows } from '../settings/views.ts';
import { expandIncludes, loadScripts } from './redis/script-loader.ts';

describe('settings', () => {
  it('defaults come from one table', () => {
    const s = engineSettings({});
    for (const [name, row] of Object.entries(engineSettingRows)) expect(s[name as keyof typeof s]).toBe(row.default);
  });
  it('reads the environment and refuses bad values with the variable named', () => {
    expect(engineSettings({ STOCKADE_PARTITIONS: '16' }).partitions).toBe(16);
    expect(() => engineSettings({ STOCKADE_PARTITIONS: '0' })).toThrow(/STOCKADE_PARTITIONS/);
    expect(() => engineSettings({ STOCKADE_BATCH_SIZE_MAX: '1.5' })).toThrow(/STOCKADE_BATCH_SIZE_MAX/);
    expect(() => engineSettings({ STOCKADE_HOLD_TTL_MS_MIN: '999999999' })).toThrow(/min <= default <= max/);
  });
});

describe('scripts', () => {
  it('every script starts with #!lua, names its key count, and has its includes inlined once', () => {
    const scripts = loadScripts();
    expect(scripts.map((s) => s.name).sort()).toEqual(['activateCart', 'adjustStock', 'beginPayment', 'checkFence', 'claimKeys',
      'commitHold', 'confirmRecord', 'createProduct', 'dueIds', 'expireHolds', 'forgetClaim', 'hitRateLimit', 'liftFence', 'parkEntries', 'purgeRecords',
      'readHold', 'recordRefund', 'releaseHold', 'reserveHolds', 'resetCounts', 'restoreCartPart', 'restoreOrder', 'setFence']);
    for (const s of scripts) {
      expect(s.lua).toMatch(/^#!lua( flags=[a-z,-]+)?\n/);
      expect(s.lua).not.toMatch(/--- @include/);
      expect(s.lua).toMatch(new RegExp(`KEYS\\[${s.numberOfKeys}\\]`));
      expect(s.lua).not.toMatch(new RegExp(`KEYS\\[${s.numberOfKeys + 1}\\]`));
    }
  });
  it('an include used twice is inlined once', () => {
    const out = expandIncludes('--- @include "clock"\n--- @include "clock"\n');
    expect(out.match(/local function nowMs/g)).toHaveLength(1);
  });
});
