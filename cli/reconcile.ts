import { Redis } from 'ioredis';
import { Engine } from '../engine/index.ts';
import { resolveServices, type ServiceUrls } from '../services/resolve.ts';
import { checkSettings, processRoles } from '../settings/views.ts';
import { runSteps } from './progress.ts';
import { pairs } from './table.ts';

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
