import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Fleet } from './fleet.ts';
import type { Rng } from './rng.ts';

/** The faults injected one at a time during the sale (crash points, provider faults and client resends run all along). */
export const allFaultKinds = ['kill-process', 'kill-redis', 'redis-data-loss', 'stop-postgres', 'kill-master'] as const;
export type FaultKind = (typeof allFaultKinds)[number];
/** The faults of a run on the embedded redis-server (the default). */
export const faultKinds: readonly FaultKind[] = ['kill-process', 'kill-redis', 'redis-data-loss', 'stop-postgres'];
/** The faults of a run on a local Redis Cluster (`--redis-cluster N`): a master killed instead of the one redis-server. */
export const clusterFaultKinds: readonly FaultKind[] = ['kill-process', 'kill-master', 'stop-postgres'];

export interface Injected {
  kind: FaultKind;
  /** Seconds since the sale began. */
  atSec: number;
  detail: string;
}

export interface FaultPlan {
  kinds: readonly FaultKind[];
  /** Pause between two faults (ms), drawn from [min, max]. */
  gapMs: { min: number; max: number };
  postgresDownMs: number;
  /** How long before its crash the AOF copy of a data-loss fault is taken. */
  dataLossAgeMs: { min: number; max: number };
  /** `reconcile repair` after a data loss or a failover (the partitions that lost data stay fenced until it has run). */
  repair: () => Promise<string>;
  /** Told of each stretch whose writes Redis may have lost (ms since the epoch): the verdict forgives claims made in it. */
  lost: (window: { fromMs: number; toMs: number }) => void;
}

/** How far behind its master a replica is taken to be at a kill -9 (a bound for the verdict, not a measurement). */
const replicaLagBoundMs = 2_000;

/**
 * Injects faults one after another until untilMs: each enabled kind once first
 * (in the seed's order), then any. The seed fixes the kinds, the gaps, the
 * downtimes and which process is killed (by its index among the victims).
 */
export async function injectFaults(fleet: Fleet, plan: FaultPlan, rng: Rng, startedMs: number, untilMs: number,
  record: (i: Injected) => void): Promise<void> {
  const firsts = [...plan.kinds].sort(() => rng.next() - 0.5);
  for (let i = 0; ; i++) {
    await sleepMs(rng.int(plan.gapMs.min, plan.gapMs.max));
    if (Date.now() >= untilMs) return;
    const kind = firsts[i] ?? rng.pick(plan.kinds);
    const atSec = Math.round((Date.now() - startedMs) / 100) / 10;
    record({ kind, atSec, detail: await inject(fleet, plan, rng, kind) });
  }
}

async function inject(fleet: Fleet, plan: FaultPlan, rng: Rng, kind: FaultKind): Promise<string> {
  switch (kind) {
    case 'kill-process': {
      const victims = fleet.victims();
      const primary = fleet.primaryPid();
      // The primary (write-through and sweeps; its API processes exit with it) one time in four.
      if (primary && rng.chance(0.25)) {
        process.kill(primary, 'SIGKILL');
        return `kill -9 stockade start (pid ${primary}: its API processes, write-through, sweeps)`;
      }
      const victim = victims[rng.int(0, Math.max(0, victims.length - 1))];
      if (!victim) return 'no process to kill';
      process.kill(victim.pid, 'SIGKILL');
      return `kill -9 ${victim.name} (pid ${victim.pid})`;
    }
    case 'kill-redis': {
      const downMs = rng.int(200, 2_000);
      await fleet.crashRedis(downMs);
      return `kill -9 redis-server mid-burst, started again from its AOF after ${downMs} ms`;
    }
    case 'redis-data-loss': {
      const ageMs = rng.int(plan.dataLossAgeMs.min, plan.dataLossAgeMs.max);
      const copiedAtMs = Date.now();
      const copy = fleet.snapshotAof();
      await sleepMs(ageMs);
      plan.lost({ fromMs: copiedAtMs, toMs: Date.now() + 1_000 }); // + the answers in flight when it died
      await fleet.crashRedis(rng.int(200, 1_000), copy);
      const repaired = await plan.repair();
      return `redis-server killed and started from an AOF copied ${ageMs} ms earlier (the last writes lost); reconcile repair: ${repaired}`;
    }
    case 'kill-master': {
      const killedAtMs = Date.now();
      const detail = await fleet.killMaster((n) => rng.int(0, n - 1));
      // What a replica may lag behind by (asynchronous replication: milliseconds on loopback), and the answers in flight.
      plan.lost({ fromMs: killedAtMs - replicaLagBoundMs, toMs: killedAtMs + 1_000 });
      // Asynchronous replication may have lost the last writes the old master acknowledged: the promoted replica's
      // partitions that lost a paid order are fenced (compared with the provider's captures) until repair.
      const repaired = await plan.repair();
      return `${detail}; reconcile repair: ${repaired}`;
    }
    case 'stop-postgres': {
      await fleet.stopPostgres(plan.postgresDownMs);
      return `PostgreSQL stopped for ${plan.postgresDownMs / 1000} s, then started again`;
    }
  }
}

