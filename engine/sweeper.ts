import type { EngineContext } from './context.ts';

export interface SweepReport {
  expired: number;
  purged: number;
  stillDue: number;
}

/**
 * Expires due holds and purges records past retention, partition by partition,
 * in bounded steps. The hot path reclaims due holds by itself; this keeps quiet
 * partitions clean and is what the reconciler runs on a schedule.
 */
export class Sweeper {
  constructor(private readonly ctx: EngineContext) {}

  /** Expires a bounded step of due holds; stillDue counts the due groups left for later steps. */
  async expirePartition(partition: number): Promise<{ expired: number; stillDue: number }> {
    const k = this.ctx.keys.partition(partition);
    const [expired, stillDue] = (await this.ctx.scripts.expireHolds(k.skus, k.holds, k.due, k.users, k.gc, k.meta,
      this.ctx.settings.expireGroupsMax, this.ctx.recordRetentionMs)) as [number, number];
    return { expired, stillDue };
  }

  async purgePartition(partition: number): Promise<number> {
    const k = this.ctx.keys.partition(partition);
    return (await this.ctx.scripts.purgeRecords(k.holds, k.gc, k.meta, this.ctx.settings.purgeGroupsMax)) as number;
  }

  async purgeShard(shard: number): Promise<number> {
    const k = this.ctx.keys.shard(shard);
    return (await this.ctx.scripts.purgeRecords(k.claims, k.gc, k.meta, this.ctx.settings.purgeGroupsMax)) as number;
  }

  /** One pass over every partition and shard: one bounded step each. */
  async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = { expired: 0, purged: 0, stillDue: 0 };
    for (let p = 0; p < this.ctx.settings.partitions; p++) {
      const { expired, stillDue } = await this.expirePartition(p);
      report.expired += expired;
      report.stillDue += stillDue;
      report.purged += await this.purgePartition(p);
    }
    for (let s = 0; s < this.ctx.settings.keyShards; s++) report.purged += await this.purgeShard(s);
    return report;
  }
}
