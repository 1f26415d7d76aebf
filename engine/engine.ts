import type { Cluster, Redis } from 'ioredis';
import { engineSettings, type EngineSettings } from '../settings/views.ts';
import { recordRetentionMs, type EngineContext } from './redis/context.ts';
import { randomUUID } from 'node:crypto';
import { KeySpace, type PartitionKeys } from './redis/keys.ts';
import { MemoryGuard, type MemoryState } from './redis/memory.ts';
import { OutboxStreams } from './redis/outbox-streams.ts';
import { ProductCatalog, stockFingerprint } from './catalog/products.ts';
import type { AdjustStockOutcome } from './types.ts';
import { HoldMaker } from './holds/make.ts';
import { Holds } from './holds/holds.ts';
import type { FaultHooks } from './faults.ts';
import { defineScripts } from './redis/scripts.ts';
import { Sweeper } from './reconciler/sweeper.ts';

/**
 * The reservation engine: products and stock, holds and their life, and the
 * sweeper, over one Redis (or Redis Cluster) client. Knows nothing of HTTP.
 */
export class Engine {
  readonly products: ProductCatalog;
  readonly holds: Holds;
  readonly holdMaker: HoldMaker;
  readonly sweeper: Sweeper;
  /** The outbox streams as write-through reads, trims and parks them. */
  readonly outbox: OutboxStreams;

  constructor(readonly ctx: EngineContext) {
    this.products = new ProductCatalog(ctx);
    this.holds = new Holds(ctx);
    this.holdMaker = new HoldMaker(ctx, this.holds);
    this.sweeper = new Sweeper(ctx);
    this.outbox = new OutboxStreams(ctx);
  }

  /** `faults`: test-only hooks (engine/faults.ts); never set by the runtime. */
  static create(redis: Redis | Cluster, overrides: Partial<EngineSettings> = {}, env: NodeJS.ProcessEnv = process.env,
    faults?: FaultHooks): Engine {
    const settings = engineSettings(env, overrides);
    const ctx: EngineContext = {
      redis,
      scripts: defineScripts(redis, faults),
      keys: new KeySpace(settings.keyPrefix, settings.partitions, settings.keyShards),
      settings,
      recordRetentionMs: recordRetentionMs(settings),
      memory: new MemoryGuard(redis, settings.memoryHighWatermarkPct, settings.memoryCheckMs),
    };
    return new Engine(ctx);
  }

  get settings(): EngineSettings {
    return this.ctx.settings;
  }

  createProduct = (...a: Parameters<ProductCatalog['create']>) => this.products.create(...a);
  /**
   * Restock (delta > 0) or shrink (delta < 0). With an idempotency key (scoped
   * by the caller) a retry applies once and answers the first outcome; the
   * same key with another sku or delta is refused.
   */
  async adjustStock(sku: string, delta: number, o: { idempotencyKey?: string } = {}): Promise<AdjustStockOutcome> {
    if (o.idempotencyKey === undefined) return this.products.adjustStock(sku, delta);
    const claim = await this.holdMaker.claim(o.idempotencyKey, stockFingerprint(sku, delta), randomUUID());
    if (claim.kind === 'reused') return { kind: 'key_reused' };
    const out = await this.products.adjustStock(sku, delta, claim.id);
    return claim.kind === 'replay' ? { kind: 'duplicate', of: out } : out;
  }
  getProduct = (...a: Parameters<ProductCatalog['get']>) => this.products.get(...a);
  reserve = (...a: Parameters<HoldMaker['reserve']>) => this.holdMaker.reserve(...a);
  getReservation = (...a: Parameters<Holds['get']>) => this.holds.get(...a);
  beginPayment = (...a: Parameters<Holds['beginPayment']>) => this.holds.beginPayment(...a);
  commit = (...a: Parameters<Holds['commit']>) => this.holds.commit(...a);
  release = (...a: Parameters<Holds['release']>) => this.holds.release(...a);
  recordRefund = (...a: Parameters<Holds['recordRefund']>) => this.holds.recordRefund(...a);
  overduePayments = (...a: Parameters<Holds['overduePayments']>) => this.holds.overduePayments(...a);
  voidsToRecheck = (...a: Parameters<Holds['voidsToRecheck']>) => this.holds.voidsToRecheck(...a);
  voidRechecked = (...a: Parameters<Holds['voidRechecked']>) => this.holds.voidRechecked(...a);
  sweepOnce = () => this.sweeper.sweepOnce();

  /** False while Redis memory is past its high watermark: no new idempotency claim should be made then. */
  hasMemoryRoom(): Promise<boolean> {
    return this.ctx.memory.hasRoom();
  }

  /** Redis memory as last read (asked afresh with `fresh`). */
  async memory(fresh = false): Promise<MemoryState> {
    if (fresh) await this.ctx.memory.refresh();
    return this.ctx.memory.current;
  }

  /** Outbox entries not yet written through, per partition (a failed read counts 0). */
  outboxLengths(): Promise<number[]> {
    return this.streamLengths((k) => k.outbox);
  }

  /** Parked outbox entries (failed for good, retried from time to time), per partition (a failed read counts 0). */
  parkedLengths(): Promise<number[]> {
    return this.streamLengths((k) => k.parked);
  }

  /** Outbox entries not yet written through, over every partition. */
  async outboxBacklog(): Promise<number> {
    return sum(await this.outboxLengths());
  }

  /** Parked outbox entries, over every partition. */
  async outboxParked(): Promise<number> {
    return sum(await this.parkedLengths());
  }

  private async streamLengths(keyOf: (k: PartitionKeys) => string): Promise<number[]> {
    const pipeline = this.ctx.redis.pipeline();
    for (let p = 0; p < this.settings.partitions; p++) pipeline.xlen(keyOf(this.ctx.keys.partition(p)));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, n]) => (error ? 0 : Number(n)));
  }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
