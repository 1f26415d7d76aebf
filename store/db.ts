import postgres from 'postgres';

export type Sql = postgres.Sql;

/**
 * A postgres.js pool for DATABASE_URL; notices are not logged, errors keep their `code`. Its timeouts
 * are constants, not settings: they say when PostgreSQL counts as away (a 503, a worker's retry).
 */
export function connectDb(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
    // A stalled query fails (503 to a client, a retry for a worker) instead of hanging.
    connection: { statement_timeout: 15_000 },
    // int8 as a JS number: every amount and count here is far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (text: string) => Number(text) } },
    transform: { undefined: null },
  });
}
