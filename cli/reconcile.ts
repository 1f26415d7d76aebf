import { Redis } from 'ioredis';
import { Engine, createLogger } from '../engine/index.ts';
import type { Runtime } from '../app/runtime.ts';
import type { VerifyReport } from '../reconciler/verify.ts';
import { resolveServices, type ServiceUrls } from '../services/resolve.ts';
import { checkSettings, processRoles } from '../settings/views.ts';
import { runSteps } from './progress.ts';
import { pairs, table } from './table.ts';

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
  const redis = new Redis(redisUrl);
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
