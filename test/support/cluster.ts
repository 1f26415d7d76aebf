import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { keySlot, partitionKeys, partitionOf } from '../../engine/index.ts';
import { startLocalCluster, type LocalCluster } from '../../services/cluster.ts';

export type { LocalCluster };

/** A local cluster for tests (no password; node timeout 3 s), under `under` (the test's temp dir by default). */
export function startCluster(masters = 3, under?: string): Promise<LocalCluster> {
  return startLocalCluster({ masters, ...(under ? { under } : {}) });
}

type SlotRanges = [number, number, [string, number, ...unknown[]], ...unknown[]][];

/** CLUSTER SLOTS as one live node answers it (any of `ports` that answers). */
async function slotRanges(ports: number[]): Promise<SlotRanges> {
  for (const port of ports) {
    const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    try {
      await r.connect();
      return (await r.cluster('SLOTS')) as unknown as SlotRanges;
    } catch {
      // that node is down: ask the next
    } finally {
      r.disconnect();
    }
  }
  throw new Error(`no node of ${ports.join(', ')} answers CLUSTER SLOTS`);
}

/** The port of the master that serves a slot now. */
export async function masterOfSlot(cluster: LocalCluster, slot: number, alive: number[] = cluster.ports): Promise<number> {
  const range = (await slotRanges(alive)).find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error(`no master serves slot ${slot}`);
  return Number(range[2][1]);
}

/** The port of the master that serves a SKU's partition (its meta key's slot). */
export function masterOfSku(cluster: LocalCluster, keyPrefix: string, partitions: number, sku: string): Promise<number> {
  return masterOfSlot(cluster, keySlot(partitionKeys(keyPrefix, partitionOf(sku, partitions)).meta));
}

/** Waits until another node than `dead` serves the slots `dead` served (its replica promoted): that node's port. */
export async function waitPromoted(cluster: LocalCluster, dead: number, slot: number, timeoutMs: number): Promise<number> {
  const alive = cluster.ports.filter((p) => p !== dead);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const master = await masterOfSlot(cluster, slot, alive).catch(() => dead);
    if (master !== dead) return master;
    if (Date.now() > deadline) throw new Error(`slot ${slot} was not failed over from :${dead} within ${timeoutMs} ms`);
    await sleep(100);
  }
}
