import { connectRedis } from '../app/redis.ts';
import { Engine, createLogger } from '../engine/index.ts';
import type { Runtime } from '../app/runtime.ts';
import type { VerifyReport } from '../reconciler/verify.ts';
import { resolveServices, type ServiceUrls } from '../services/resolve.ts';
import { checkSettings, processRoles, serviceSettings } from '../settings/views.ts';
import { runSteps } from './progress.ts';
import { pairs, table } from './table.ts';
import { connectDb } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';
import { rebuildFromRecord, type RebuildSummary } from './rebuild.ts';

/** Sweep passes one `reconcile expire` makes at most: a guard against a loop that never ends, not a setting (each pass is sized by the sweep settings). */
const passesMax = 1_000;

/** `stockade reconcile expire`: sweeps until nothing is due. */
export async function reconcileExpire(opts: { json?: boolean }): Promise<void> {
  checkSettings(process.env, processRoles.reconcile);
  const total = { expired: 0, purged: 0 };
  const run: { services?: ServiceUrls } = {};
  try {
    await runSteps([
      { title: 'find or start Redis and PostgreSQL', run: async () => { run.services = await resolveServices(); } },
      { title: 'expire due holds, purge records past retention', run: (report) => sweepUntilDone(run.services!.redisUrl, total, report) },
    ], opts);
  } finally {
    await run.services?.stop();
  }
  console.log(opts.json ? JSON.stringify({ ok: true, ...total }) : pairs([['expired holds', total.expired], ['purged records', total.purged]]));
}

async function sweepUntilDone(redisUrl: string, total: { expired: number; purged: number }, report: (text: string) => void): Promise<void> {
  const redis = await connectRedis(redisUrl, 'stockade-reconcile', serviceSettings().redisCluster);
  try {
    const engine = Engine.create(redis);
    for (let pass = 0; pass < passesMax; pass++) {
      const r = await engine.sweepOnce();
      total.expired += r.expired;
      total.purged += r.purged;
      report(`${total.expired} expired, ${total.purged} purged`);
      if (r.stillDue === 0 && r.purged === 0) break;
    }
  } finally {
    await redis.quit();
  }
}

/** verify's and repair's way in: the runtime (engine, PostgreSQL, provider, checkout saga) over the services found or started. */
async function withRuntime<T>(opts: { json?: boolean }, title: string, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  checkSettings(process.env, [...processRoles.reconcile, 'payments']);
  const run: { services?: ServiceUrls; result?: T } = {};
  try {
    await runSteps([
      { title: 'find or start Redis and PostgreSQL', run: async () => { run.services = await resolveServices(); } },
      { title, run: async () => {
        const { createRuntime } = await import('../app/runtime.ts');
        const runtime = await createRuntime({ redisUrl: run.services!.redisUrl, databaseUrl: run.services!.databaseUrl, role: 'workers',
          log: createLogger('stockade-reconcile', undefined, process.stderr) });
        try {
          run.result = await work(runtime);
        } finally {
          await runtime.close();
        }
      } },
    ], opts);
  } finally {
    await run.services?.stop();
  }
  return run.result!;
}

/** `stockade reconcile verify`: exit 0 when every invariant holds, 1 when not (each violation named). */
export async function reconcileVerify(opts: { json?: boolean }): Promise<void> {
  const { verify } = await import('../reconciler/verify.ts');
  const report = await withRuntime(opts, 'check Redis, PostgreSQL and the payment provider', (r) => verify(r));
  console.log(opts.json ? JSON.stringify(report) : verifyText(report));
  if (!report.ok) process.exitCode = 1;
}

/** `stockade reconcile repair`: each action taken; exit 0 when verify passes afterwards, 1 when violations are left. */
export async function reconcileRepair(opts: { json?: boolean }): Promise<void> {
  const { repair } = await import('../reconciler/repair.ts');
  const report = await withRuntime(opts, 'repair what can be repaired without guessing', (r) => repair(r));
  if (opts.json) console.log(JSON.stringify({ ok: report.after.ok, actions: report.actions, after: report.after }));
  else {
    const rows = report.actions.map((a) => [a.kind, a.sku ?? a.reservation ?? (a.partition === undefined ? '' : `partition ${a.partition}`), a.detail]);
    console.log(rows.length > 0 ? table(['action', 'of', 'detail'], rows) : 'nothing to repair');
    console.log(`\nafter repair: ${verifyText(report.after)}`);
  }
  if (!report.after.ok) process.exitCode = 1;
}

function verifyText(report: VerifyReport): string {
  const c = report.checked;
  const summary = pairs([
    ['result', report.ok ? 'ok' : `${report.violations.length} violation(s)`],
    ['skus', c.skus], ['orders', c.orders], ['charges', c.charges], ['outbox entries', c.outbox], ['parked entries', c.parked],
    ...(report.notCompared.length > 0 ? [['not compared (outbox too long)', report.notCompared.join(', ')] as [string, string]] : []),
  ]);
  if (report.ok) return summary;
  const rows = report.violations.map((v) => [v.kind, v.sku ?? v.reservation ?? `partition ${v.partition}`, String(v.expected), String(v.found), v.detail]);
  return `${table(['violation', 'of', 'expected', 'found', 'detail'], rows)}\n\n${summary}`;
}

/**
 * `stockade reconcile rebuild [--force]`: restores Redis from PostgreSQL (products, totals, sold, per-user
 * counts, the catalog index, the fencing markers) and lifts the fences. Live holds are not in PostgreSQL:
 * reserved is 0 after it (their units are available again).
 */
export async function reconcileRebuild(opts: { json?: boolean; force?: boolean }): Promise<void> {
  checkSettings(process.env, processRoles.reconcile);
  const run: { services?: ServiceUrls; summary?: RebuildSummary } = {};
  try {
    await runSteps([
      { title: 'find or start Redis and PostgreSQL', run: async () => { run.services = await resolveServices(); } },
      { title: 'rebuild Redis from PostgreSQL, partition by partition', run: async (report) => {
        run.summary = await rebuildWith(run.services!, Boolean(opts.force), report);
      } },
    ], opts);
  } finally {
    await run.services?.stop();
  }
  const s = run.summary!;
  const rows = { partitions: s.partitions.length, products: s.products, holds_dropped: s.holdsDropped };
  console.log(opts.json ? JSON.stringify({ ok: true, ...rows, reserved: 0 }) : pairs([['partitions rebuilt', rows.partitions],
    ['products', rows.products], ['hold records dropped (live holds are gone: reserved is 0, their units available)', rows.holds_dropped]]));
}

async function rebuildWith(services: ServiceUrls, force: boolean, report: (text: string) => void): Promise<RebuildSummary> {
  const redis = await connectRedis(services.redisUrl, 'stockade-reconcile', serviceSettings().redisCluster);
  const sql = connectDb(services.databaseUrl, { max: 2 });
  try {
    await migrate(sql);
    return await rebuildFromRecord(Engine.create(redis), sql, { force }, report);
  } finally {
    await Promise.allSettled([redis.quit(), sql.end({ timeout: 5 })]);
  }
}
