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
        if (r.expired > 0 || r.purged > 0) log.debug(r, 'sweep');
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
