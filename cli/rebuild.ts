import type { Engine, RebuiltPartition } from '../engine/index.ts';
import { StockadeError } from '../engine/index.ts';
import type { Sql } from '../store/db.ts';
import { partitionSnapshots } from '../store/marks.ts';

export interface RebuildSummary {
  partitions: RebuiltPartition[];
  products: number;
  /** Holds live in Redis before a --force rebuild: gone (their units are available again). */
  holdsDropped: number;
}

/**
 * `reconcile rebuild`'s work: every partition of Redis written again from
 * PostgreSQL (engine rebuildPartition), one after another. Refused while an
 * initialised partition holds hold records (Redis still has state) unless
 * `force`, and while any outbox holds entries PostgreSQL lacks. Safe to run twice (it writes the
 * same) and to interrupt (a partition whose init was not yet set is rebuilt
 * again by the next run, and refuses until then).
 */
export async function rebuildFromRecord(engine: Engine, sql: Sql, o: { force?: boolean },
  report: (text: string) => void = () => {}): Promise<RebuildSummary> {
  const contents = await engine.partitionContents();
  const withState = contents.filter((c) => c.initialised && c.records > 0).map((c) => c.partition);
  if (withState.length > 0 && !o.force) {
    throw new StockadeError('ASSERTION', `Redis still has state (holds or records in ${withState.length} initialised partitions): a `
      + 'rebuild would drop its live holds. Run `stockade reconcile rebuild --force` to rebuild anyway.');
  }
  const unwritten = contents.filter((c) => c.unwritten > 0).map((c) => `${c.partition} (${c.unwritten})`);
  if (unwritten.length > 0) {
    throw new StockadeError('ASSERTION', `outbox entries not yet in PostgreSQL in partitions ${unwritten.join(', ')}: let `
      + 'write-through drain them (or run `stockade reconcile repair`) first');
  }
  // Nothing is granted from here until each partition is rebuilt, so nothing changes under the snapshot.
  await engine.uninitialise();
  report('every partition refuses until rebuilt; reading PostgreSQL');
  const snapshots = await partitionSnapshots(sql, engine.settings.partitions);
  const rebuilt: RebuiltPartition[] = [];
  for (let p = 0; p < engine.settings.partitions; p++) {
    const snapshot = snapshots.get(p) ?? { products: [], userUnits: [], markSeq: 0 };
    rebuilt.push(await engine.rebuildPartition(p, snapshot));
    report(`partition ${p + 1}/${engine.settings.partitions}: ${rebuilt.reduce((n, r) => n + r.products, 0)} products`);
  }
  return { partitions: rebuilt, products: rebuilt.reduce((n, r) => n + r.products, 0),
    holdsDropped: rebuilt.reduce((n, r) => n + r.holdsDropped, 0) };
}
