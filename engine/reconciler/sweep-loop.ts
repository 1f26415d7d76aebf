import type { OverdueRecovery } from './overdue.ts';
import type { Engine } from '../engine.ts';
import type { Logger } from '../log.ts';

/**
 * Runs the sweeper every sweepIntervalMs until stopped, and with a checkout
 * with a recovery also the overdue payments; a failed pass is logged and retried
 * next time.
 */
export function startSweepLoop(engine: Engine, log: Logger, recovery?: OverdueRecovery): { stop: () => Promise<void> } {
  let stopped = false;
  let busy: Promise<void> | null = null;
  const pass = async () => {
    try {
      const r = await engine.sweepOnce();
      if (r.failed > 0) log.warn({ err: r.lastError, failed: r.failed }, 'sweep steps failed');
      else if (r.expired > 0 || r.purged > 0) log.debug({ expired: r.expired, purged: r.purged }, 'sweep');
      const recovered = await recovery?.recoverOverdue();
      if (recovered && recovered.committed + recovered.released + recovered.refunded > 0) log.info(recovered, 'finished overdue payments');
    } catch (error) {
      log.warn({ err: error }, 'sweep failed');
    }
  };
  // A tick that finds the last pass still running is skipped: passes never queue up.
  const timer = setInterval(() => {
    if (stopped || busy) return;
    busy = pass().finally(() => { busy = null; });
  }, engine.settings.sweepIntervalMs);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await busy;
    },
  };
}
