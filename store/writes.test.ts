import { expect, it } from 'vitest';
import { bindParametersMax, rowsPerStatementMax } from './writes.ts';

it('a statement of rowsPerStatementMax rows stays under postgres.js bind-parameter limit for every width', () => {
  expect(bindParametersMax).toBeLessThan(65_534); // postgres.js throws MAX_PARAMETERS_EXCEEDED from 65,534
  for (let columns = 1; columns <= 64; columns++) {
    const rows = rowsPerStatementMax(columns);
    expect(rows * columns).toBeLessThanOrEqual(bindParametersMax);
    expect((rows + 1) * columns).toBeGreaterThan(bindParametersMax);
  }
});
