import type { EngineContext } from '../redis/context.ts';
import { expireHolds, type ExpireStep } from '../redis/scripts/expireHolds.ts';
import { purgeRecords } from '../redis/scripts/purgeRecords.ts';

export interface SweepReport {
  expired: number;
  purged: number;
  /** Due groups left when the pass ran out of time. */
  stillDue: number;
  /** Partitions or shards whose step failed (the pass goes on to the others). */
  failed: number;
  lastError?: unknown;
}

export class Sweeper {
  constructor(private readonly ctx: EngineContext) {}

  /** Expires a bounded step of due holds; stillDue counts the SKUs with due holds left for later steps. */
  expirePartition(partition: number): Promise<ExpireStep> {
    return expireHolds(this.ctx, partition);
  }

  purgePartition(partition: number): Promise<number> {
    return purgeRecords(this.ctx, { partition });
  }

  purgeShard(shard: number): Promise<number> {
    return purgeRecords(this.ctx, { shard });
  }

  /**
   * One pass over every partition and shard. A partition is swept until nothing
   * is due or the pass's time budget is spent, so a burst that falls due at once
   * drains in one pass rather than a bounded step per interval. A failing
   * partition is counted and skipped, never stopping the others.
   */
  async sweepOnce(budgetMs = this.ctx.settings.sweepBudgetMs): Promise<SweepReport> {
    const deadline = Date.now() + budgetMs;
    const report: SweepReport = { expired: 0, purged: 0, stillDue: 0, failed: 0 };
    const attempt = async (step: () => Promise<void>) => {
      try {
        await step();
      } catch (error) {
        report.failed += 1;
        report.lastError = error;
      }
    };
    for (let p = 0; p < this.ctx.settings.partitions; p++) {
      await attempt(async () => {
        let step: ExpireStep;
        do {
          step = await this.expirePartition(p);
          report.expired += step.expired;
        } while (step.stillDue > 0 && Date.now() < deadline);
        report.stillDue += step.stillDue;
        report.purged += await this.purgePartition(p);
      });
    }
    for (let s = 0; s < this.ctx.settings.keyShards; s++) {
      await attempt(async () => {
        report.purged += await this.purgeShard(s);
      });
    }
    return report;
  }
}
