import type { Engine } from './engine.ts';
import type { Logger } from './log.ts';

/** Runs the sweeper every sweepIntervalMs until stopped; a failed pass is logged and retried next time. */
export function startSweepLoop(engine: Engine, log: Logger): { stop: () => Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const r = await engine.sweepOnce();
        if (r.failed > 0) log.warn({ err: r.lastError, failed: r.failed }, 'sweep steps failed');
        else if (r.expired > 0 || r.purged > 0) log.debug({ expired: r.expired, purged: r.purged }, 'sweep');
      } catch (error) {
        log.warn({ err: error }, 'sweep failed');
      }
    });
  }, engine.settings.sweepIntervalMs);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
