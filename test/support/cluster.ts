import { keySlot, partitionKeys, partitionOf } from '../../engine/index.ts';
import { startLocalCluster, type LocalCluster } from '../../services/cluster.ts';

export type { LocalCluster };

/** A local cluster for tests (no password; node timeout 3 s), under `under` (the test's temp dir by default). */
export function startCluster(masters = 3, under?: string): Promise<LocalCluster> {
  return startLocalCluster({ masters, ...(under ? { under } : {}) });
}

/** The port of the master that serves a SKU's partition (its meta key's slot). */
export function masterOfSku(cluster: LocalCluster, keyPrefix: string, partitions: number, sku: string): Promise<number> {
  return cluster.masterOfSlot(keySlot(partitionKeys(keyPrefix, partitionOf(sku, partitions)).meta));
}
