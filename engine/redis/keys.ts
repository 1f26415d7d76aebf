/**
 * Redis key layout. Every key of a partition shares the hash tag {p:N}, and every
 * key of an idempotency shard the tag {k:N}, so each script touches one hash slot
 * and runs unchanged on Redis Cluster.
 */
export interface PartitionKeys {
  skus: string;
  holds: string;
  /** sku -> earliest due deadline of its holds (lua/includes/expire.lua). */
  due: string;
  /** The due holds by sku and deadline (lua/includes/expire.lua). */
  dueHolds: string;
  /** The due index before it was kept by SKU: drained by the sweeper (lua/expireHolds-8.lua). */
  legacyDue: string;
  /** Holds released after their charge was voided, by when the recovery asks the provider again. */
  voided: string;
  paying: string;
  users: string;
  gc: string;
  outbox: string;
  /** Outbox entries that could not be written, moved aside (with their original id and the reason) and retried. */
  parked: string;
  /** Present while the parked entries wait for their next retry; expires after the retry interval. */
  parkedRetry: string;
  meta: string;
}

export interface ShardKeys {
  claims: string;
  gc: string;
  meta: string;
}

export function partitionKeys(prefix: string, partition: number): PartitionKeys {
  const tag = `${prefix}{p:${partition}}:`;
  return {
    skus: `${tag}skus`,
    holds: `${tag}holds`,
    due: `${tag}due-skus`,
    dueHolds: `${tag}due-holds`,
    legacyDue: `${tag}due`,
    voided: `${tag}voided`,
    paying: `${tag}paying`,
    users: `${tag}users`,
    gc: `${tag}gc`,
    outbox: `${tag}outbox`,
    parked: `${tag}parked`,
    parkedRetry: `${tag}parkedretry`,
    meta: `${tag}meta`,
  };
}

export function shardKeys(prefix: string, shard: number): ShardKeys {
  const tag = `${prefix}{k:${shard}}:`;
  return { claims: `${tag}claims`, gc: `${tag}gc`, meta: `${tag}meta` };
}

/** Memoizes the key sets, so hot paths build no strings. */
export class KeySpace {
  private readonly parts: PartitionKeys[] = [];
  private readonly shards: ShardKeys[] = [];
  constructor(readonly prefix: string, readonly partitions: number, readonly keyShards: number) {
    for (let p = 0; p < partitions; p++) this.parts.push(partitionKeys(prefix, p));
    for (let s = 0; s < keyShards; s++) this.shards.push(shardKeys(prefix, s));
  }
  partition(p: number): PartitionKeys {
    const keys = this.parts[p];
    if (!keys) throw new RangeError(`partition ${p} outside 0..${this.partitions - 1}`);
    return keys;
  }
  shard(s: number): ShardKeys {
    const keys = this.shards[s];
    if (!keys) throw new RangeError(`shard ${s} outside 0..${this.keyShards - 1}`);
    return keys;
  }
}
