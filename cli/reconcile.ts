import { Redis } from 'ioredis';
import { Engine } from '../engine/index.ts';
import { resolveServices } from '../services/resolve.ts';
import { checkSettings, processRoles } from '../settings/views.ts';

/** Sweep passes one `reconcile expire` makes at most: a guard against a loop that never ends, not a setting (each pass is sized by the sweep settings). */
const passesMax = 1_000;

/** `stockade reconcile expire`: sweeps until nothing is due. */
export async function reconcileExpire(opts: { json?: boolean }): Promise<void> {
  checkSettings(process.env, processRoles.reconcile);
  const services = await resolveServices();
  const redis = new Redis(services.redisUrl);
  try {
    const engine = Engine.create(redis);
    const total = { expired: 0, purged: 0 };
    for (let pass = 0; pass < passesMax; pass++) {
      const r = await engine.sweepOnce();
      total.expired += r.expired;
      total.purged += r.purged;
      if (r.stillDue === 0 && r.purged === 0) break;
    }
    console.log(opts.json ? JSON.stringify({ ok: true, ...total }) : `expired ${total.expired} holds, purged ${total.purged} records`);
  } finally {
    await redis.quit();
    await services.stop();
  }
}
