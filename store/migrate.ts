import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sql } from './db.ts';

const migrationsDir = fileURLToPath(new URL('../migrations/', import.meta.url));

/**
 * Applies migrations/NNN_name.sql in order, each in its own transaction, once.
 * Concurrent starters serialize on an advisory lock, so any number of processes
 * may call this at start.
 */
export async function migrate(sql: Sql): Promise<string[]> {
  const files = readdirSync(migrationsDir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(7311201)`;
    await tx`create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx`select version from schema_migrations`).map((r) => r.version as string));
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(readFileSync(migrationsDir + file, 'utf8'));
      await tx`insert into schema_migrations (version) values (${file})`;
      applied.push(file);
    }
  });
  return applied;
}
