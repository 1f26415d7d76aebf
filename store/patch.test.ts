import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

// patches/postgres+3.4.9.patch guards postgres.js against a crash when PostgreSQL
// goes away mid-write (test/writethrough-faults.test.ts restarts it); patch-package applies it on install.
it('the installed postgres.js carries the closed-socket guard', () => {
  for (const variant of ['src', 'cjs/src']) {
    const text = readFileSync(new URL(`../node_modules/postgres/${variant}/connection.js`, import.meta.url), 'utf8');
    expect(text).toContain('/* stockade: closed-socket guard */');
    expect(text).toContain('clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null');
    expect(text).toContain('return fetchArrayTypes().catch(() => { needsTypes = true })');
  }
});
