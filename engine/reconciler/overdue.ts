import type { Checkout } from '../checkout/checkout.ts';
import { internalsOf, type Engine } from '../engine.ts';
import type { Logger } from '../log.ts';

export interface RecoveryReport {
  committed: number;
  /** Released: declined, voided, or found released. */
  released: number;
  /** Captures on released holds refunded. */
  refunded: number;
  /** Holds whose step failed this pass (logged; the next pass tries again). */
  failed: number;
}

/**
 * Finishes payments nobody finished: holds still `paying` past their payment
 * deadline (a confirm that timed out, crashed, or lost its client) are settled
 * by the checkout saga (void at the provider first, then settle by what
 * stands), and holds released after a void are looked at again once, so a
 * capture that a provider let through despite the void is refunded.
 */
export class OverdueRecovery {
  constructor(private readonly engine: Engine, private readonly checkout: Checkout, private readonly log?: Logger) {}

  /** One pass over every partition, at most countMax holds of each index per partition. Returns what it did. */
  async recoverOverdue(countMax = this.engine.settings.recoveryHoldsMax): Promise<RecoveryReport> {
    const { holds } = internalsOf(this.engine);
    const done: RecoveryReport = { committed: 0, released: 0, refunded: 0, failed: 0 };
    for (let p = 0; p < this.engine.settings.partitions; p++) {
      for (const id of await holds.overduePayments(p, countMax)) {
        await this.attempt(done, id, async () => {
          const out = await this.checkout.settleOverdue(id);
          if (out.kind === 'confirmed') done.committed += 1;
          else if (out.kind === 'refunded') done.refunded += 1;
          else if (out.kind === 'declined' || out.kind === 'voided' || out.kind === 'released') done.released += 1;
        });
      }
      for (const id of await holds.voidsToRecheck(p, countMax)) {
        await this.attempt(done, id, async () => { if (await this.checkout.recheckVoid(id)) done.refunded += 1; });
      }
    }
    return done;
  }

  /** One hold's step of a recovery pass: a failure is counted and logged, and the pass goes on. */
  private async attempt(done: RecoveryReport, id: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      done.failed += 1;
      this.log?.warn({ err: error, reservationId: id }, 'settling an overdue payment failed; the next pass tries again');
    }
  }
}
