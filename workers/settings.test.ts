import { expect, it } from 'vitest';
import { drainAttempts, workerDefaults, workerSettings } from './settings.ts';

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
