/** FNV-1a, 32 bits: cheap and stable across processes and languages. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The partition a SKU lives in, for its whole life (partitions are fixed at install). */
export function partitionOf(sku: string, partitions: number): number {
  return fnv1a(sku) % partitions;
}

/** The shard of the idempotency-key index that a (scoped) key lives in. */
export function shardOf(key: string, shards: number): number {
  return fnv1a(key) % shards;
}
