/** Number formats of the benchmark report: one place, so the table, the lists and the chart agree. */

const en = (n: number, fractionDigits: number) =>
  n.toLocaleString('en-US', { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits });

/** A count or a rate: an integer with thousands separators, e.g. 51,234. */
export function count(n: number): string {
  return en(Math.round(n), 0);
}

/** A duration or a cost (ms, µs): one decimal under 10, an integer from 10 on, e.g. 4.2 and 1,234. */
export function amount(n: number): string {
  return Math.abs(Math.round(n * 10) / 10) < 10 ? en(n, 1) : count(n);
}

/** A figure of a scenario: integers as counts, other numbers to three significant digits (at least the integer part). */
export function figure(value: number | string): string {
  if (typeof value === 'string') return value;
  if (Number.isInteger(value) || Math.abs(value) >= 100) return count(value);
  return value.toLocaleString('en-US', { maximumSignificantDigits: 3 });
}

/** The statuses of a run in code order, e.g. "201: 51,234; 409: 12". */
export function statuses(byStatus: Record<string, number>): string {
  const codes = Object.keys(byStatus).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  return codes.map((code) => `${code}: ${count(byStatus[code] ?? 0)}`).join('; ') || '–';
}

/** The run's start for people, e.g. "2026-12-02 19:34:29 UTC". */
export function startTime(startedAt: string): string {
  return startedAt.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}
