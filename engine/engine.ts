import type { Cluster, Redis } from 'ioredis';
import { engineSettings, type EngineSettings } from './config.ts';
import { recordRetentionMs, type EngineContext } from './context.ts';
import { KeySpace, type PartitionKeys } from './keys.ts';
import { OutboxStreams } from './outbox-streams.ts';
import { Products } from './products.ts';
import { Reserver } from './reserve.ts';
import { Reservations } from './reservations.ts';
import { defineScripts } from './scripts.ts';
import { Sweeper } from './sweeper.ts';

/**
 * The reservation engine: products and stock, holds and their life, and the
 * sweeper, over one Redis (or Redis Cluster) client. Knows nothing of HTTP.
 */
export class Engine {
  readonly products: Products;
  readonly reservations: Reservations;
  readonly reserver: Reserver;
  readonly sweeper: Sweeper;
  /** The outbox streams as write-through reads, trims and parks them. */
  readonly outbox: OutboxStreams;

  constructor(readonly ctx: EngineContext) {
    this.products = new Products(ctx);
    this.reservations = new Reservations(ctx);
    this.reserver = new Reserver(ctx, this.reservations);
    this.sweeper = new Sweeper(ctx);
    this.outbox = new OutboxStreams(ctx);
  }

  static create(redis: Redis | Cluster, overrides: Partial<EngineSettings> = {}, env: NodeJS.ProcessEnv = process.env): Engine {
    const settings = engineSettings(env, overrides);
    const ctx: EngineContext = {
      redis,
      scripts: defineScripts(redis),
      keys: new KeySpace(settings.keyPrefix, settings.partitions, settings.keyShards),
      settings,
      recordRetentionMs: recordRetentionMs(settings),
    };
    return new Engine(ctx);
  }

  get settings(): EngineSettings {
    return this.ctx.settings;
  }

  createProduct = (...a: Parameters<Products['create']>) => this.products.create(...a);
  adjustStock = (...a: Parameters<Products['adjustStock']>) => this.products.adjustStock(...a);
  getProduct = (...a: Parameters<Products['get']>) => this.products.get(...a);
  reserve = (...a: Parameters<Reserver['reserve']>) => this.reserver.reserve(...a);
  getReservation = (...a: Parameters<Reservations['get']>) => this.reservations.get(...a);
  beginPayment = (...a: Parameters<Reservations['beginPayment']>) => this.reservations.beginPayment(...a);
  commit = (...a: Parameters<Reservations['commit']>) => this.reservations.commit(...a);
  release = (...a: Parameters<Reservations['release']>) => this.reservations.release(...a);
  sweepOnce = () => this.sweeper.sweepOnce();

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
