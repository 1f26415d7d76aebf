import type { Cluster, Redis } from 'ioredis';
import type { KeySpace } from '../redis/keys.ts';

/**
 * The sold-out short-circuit: a process that has seen a SKU sold out (a
 * reserve refused with 0 available) refuses it again without a Redis round
 * trip, for at most `ttlMs` (STOCKADE_SOLD_OUT_CACHE_MS, ≤ 100 ms). Whatever
 * makes units available again (a release, an expiry, a restock, a repair)
 * publishes the SKU from its script (lua/includes/freed.lua) and the flag goes
 * at once; a message lost (a reconnect) costs at most ttlMs.
 *
 * Why: in a stampede on a sold-out SKU each refusal cost 102 µs of server CPU
 * through the claim and reserve scripts against 37 µs for the bare HTTP layer
 * (npm run bench, 2026-12-02).
 */
export class SoldOutFlags {
  /** sku -> when its flag ends (ms since the epoch). */
  private readonly until = new Map<string, number>();
  /** sku -> times a freed message came for it: a reply read before one came must not flag the SKU again. */
  private readonly freedCount = new Map<string, number>();
  /** Times every flag ended at once (clear(), or freedCount emptied): a reply read before must flag nothing. */
  private clears = 0;
  private subscriber: Redis | Cluster | null = null;
  /** After close(): a reply read later starts no subscription (it would keep the process alive). */
  private closed = false;

  constructor(private readonly o: { ttlMs: number; flagsMax: number; now?: () => number }) {}

  get enabled(): boolean {
    return this.o.ttlMs > 0;
  }

  /** The first SKU of the lines flagged sold out now, or null. */
  soldOut(skus: Iterable<string>): string | null {
    if (this.until.size === 0) return null;
    const now = this.now();
    for (const sku of skus) {
      const end = this.until.get(sku);
      if (end === undefined) continue;
      if (end > now) return sku;
      this.until.delete(sku);
    }
    return null;
  }

  /**
   * A token to take before asking Redis about the SKU: flag() with it is ignored when units were freed (or every flag
   * cleared) meanwhile, and the flag's TTL counts from now, when Redis was asked: Redis saw none available after this
   * instant, so units that came back since came back after it, and the flag ends within ttlMs of them even when their
   * message is lost (not yet subscribed, a reconnect) and the reply is read late.
   */
  epoch(sku: string): FlagEpoch {
    return { freed: this.freedCount.get(sku) ?? 0, clears: this.clears, askedAtMs: this.now() };
  }

  /** Flags the SKU sold out (Redis said 0 available), unless units were freed since `epoch` was taken. */
  flag(sku: string, epoch: FlagEpoch): void {
    if (!this.enabled || epoch.clears !== this.clears || (this.freedCount.get(sku) ?? 0) !== epoch.freed) return;
    const end = epoch.askedAtMs + this.o.ttlMs;
    if (end <= this.now()) return;
    if (!this.until.has(sku) && this.until.size >= this.o.flagsMax) this.until.delete(this.until.keys().next().value!);
    this.until.set(sku, end);
  }

  /** Units of the SKU are available again. */
  freed(sku: string): void {
    this.until.delete(sku);
    if (this.freedCount.size >= this.o.flagsMax && !this.freedCount.has(sku)) {
      this.freedCount.clear();
      this.clears += 1; // a count that starts again must not match a token taken before
    }
    this.freedCount.set(sku, (this.freedCount.get(sku) ?? 0) + 1);
  }

  /** Every flag ends now (units came back somewhere this process cannot name); replies read before flag nothing. */
  clear(): void {
    this.until.clear();
    this.clears += 1;
  }

  /**
   * Subscribes to every partition's freed channel on a connection of its own (started once, at the first flag; never
   * after close). Sharded pub/sub (SSUBSCRIBE): a partition's channel lives in its slot, so on a Redis Cluster each
   * message stays on the shard that owns the partition, and ioredis subscribes again where a slot moved (a failover).
   */
  listen(redis: Redis | Cluster, keys: KeySpace): void {
    if (this.subscriber || this.closed || !this.enabled) return;
    const sub = redis.isCluster ? (redis as Cluster).duplicate([], { shardedSubscribers: true }) : redis.duplicate();
    this.subscriber = sub;
    sub.on('smessage', (_channel: string, sku: string) => this.freed(sku));
    // Flags set before the subscription was in place (or across a reconnect) end by their TTL.
    sub.on('error', () => {});
    // One channel a command: on a cluster the channels of one SSUBSCRIBE must share a slot.
    for (let p = 0; p < keys.partitions; p++) void sub.ssubscribe(freedChannel(keys, p)).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) sub.disconnect();
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/** What SoldOutFlags.epoch hands out: what flag() compares, and when Redis was asked. */
export interface FlagEpoch {
  freed: number;
  clears: number;
  askedAtMs: number;
}

/** The channel a partition's scripts publish freed SKUs on (lua/includes/freed.lua). */
export function freedChannel(keys: KeySpace, partition: number): string {
  return `${keys.partition(partition).skus}:freed`;
}
