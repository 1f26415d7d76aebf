import type { Cluster, Redis } from 'ioredis';
import { engineSettings, type EngineSettings } from '../settings/views.ts';
import { randomUUID } from 'node:crypto';
import { ProductCatalog } from './catalog/products.ts';
import { SoldOutFlags } from './catalog/sold-out.ts';
import type { FaultHooks } from './faults.ts';
import { Fencing, type FenceState, type LiftOutcome, type RecordView } from './fencing/fencing.ts';
import type { CaptureSource } from './fencing/lost-captures.ts';
import {
  partitionContents, rebuildPartition, uninitialise, type PartitionContents, type RecordSnapshot, type RebuiltPartition,
} from './fencing/rebuild.ts';
import { Holds } from './holds/holds.ts';
import { HoldMaker } from './holds/make.ts';
import { fingerprints, IdempotencyClaims } from './idempotency/claims.ts';
import { readHoldCounts, type HoldCounts } from './redis/hold-counts.ts';
import { Sweeper, type SweepReport } from './reconciler/sweeper.ts';
import { readSweepReport, readSweepStats, recordSweepReport, recordSweepRun, type SweepCounts, type SweepStats } from './reconciler/sweep-stats.ts';
import { Audit, type OverdueHold, type PartitionSnapshot } from './reconciler/audit.ts';
import { LostOrders, type RestoreOutcome } from './reconciler/lost-orders.ts';
import type { NextCounts, ResetCountsReply } from './redis/scripts/resetCounts.ts';
import type { LostOrder } from './redis/scripts/restoreOrder.ts';
import type { ConfirmRecordReply, OrderPart } from './redis/scripts/confirmRecord.ts';
import type { HoldStatus } from './redis/records.ts';
import { recordRetentionMs, type EngineContext } from './redis/context.ts';
import { KeySpace } from './redis/keys.ts';
import { MemoryGuard, type MemoryState } from './redis/memory.ts';
import { OutboxStreams } from './redis/outbox-streams.ts';
import { fnv1a } from './redis/partition.ts';
import { keySlot } from './redis/slot.ts';
import { defineScripts } from './redis/script-loader.ts';
import { hitRateLimit, type RateLimitHit } from './redis/scripts/hitRateLimit.ts';
import type { RefundNote } from './redis/scripts/recordRefund.ts';
import type {
  AdjustStockOutcome, BeginPaymentOutcome, Stock, CommitOutcome, CreateProductOutcome, PaymentRecord, Product, ProductInput,
  ReleaseMode, ReleaseOutcome, Reservation, ReserveOutcome, ReserveRequest,
} from './types.ts';

/** The engine's parts, for the rest of engine/ (the checkout saga, the reconciler, engine tests); never exported by index.ts. */
export interface EngineInternals {
  ctx: EngineContext;
  products: ProductCatalog;
  holds: Holds;
  maker: HoldMaker;
  claims: IdempotencyClaims;
  sweeper: Sweeper;
}

const internals = new WeakMap<Engine, EngineInternals>();

/** SKUs a process keeps sold-out flags for at most (the oldest goes first): a bound on the map, not a setting. */
const soldOutFlagsMax = 10_000;

export function internalsOf(engine: Engine): EngineInternals {
  return internals.get(engine)!;
}

/**
 * The reservation engine: products and stock, holds and their life, idempotency
 * claims and the sweeper, over one Redis (or Redis Cluster) client. Knows
 * nothing of HTTP. Its methods are its whole surface.
 */
export class Engine {
  /** The outbox streams as write-through reads, trims and parks them. */
  readonly outbox: OutboxStreams;
  readonly settings: EngineSettings;
  /** Whether the engine runs on a Redis Cluster client (each partition's keys on the master of its slot). */
  readonly onCluster: boolean;
  readonly #parts: EngineInternals;
  readonly #audit: Audit;
  readonly #lostOrders: LostOrders;
  readonly #soldOut: SoldOutFlags;

  private constructor(ctx: EngineContext) {
    const products = new ProductCatalog(ctx);
    const holds = new Holds(ctx);
    const claims = new IdempotencyClaims(ctx);
    const soldOut = new SoldOutFlags({ ttlMs: ctx.settings.soldOutCacheMs, flagsMax: soldOutFlagsMax });
    this.#soldOut = soldOut;
    this.#parts = { ctx, products, holds, claims, maker: new HoldMaker(ctx, holds, claims, soldOut), sweeper: new Sweeper(ctx) };
    internals.set(this, this.#parts);
    this.outbox = new OutboxStreams(ctx);
    this.settings = ctx.settings;
    this.onCluster = ctx.redis.isCluster;
    this.#audit = new Audit(ctx, this.outbox);
    this.#lostOrders = new LostOrders(ctx, holds);
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
      fencing: null as unknown as Fencing,
    };
    ctx.fencing = new Fencing(ctx);
    return new Engine(ctx);
  }

  /** Stops what the engine runs of its own (the sold-out flags' subscription); the Redis client stays the caller's. */
  close(): Promise<void> {
    return this.#soldOut.close();
  }

  // Fencing (DESIGN.md §3).

  /**
   * Attaches PostgreSQL's view (store/marks.ts; `emptyRecord` for an engine without PostgreSQL) and checks
   * every partition against it now and after every reconnect. Until then nothing is granted: an engine
   * without one refuses (FENCED) on a partition that was never checked. With `captures` (the payment
   * provider), a redis-server that restarted is compared with the captures of the last redisLossWindowMs
   * first: a partition that came back without a paid order is fenced until `reconcile repair` recreates it.
   */
  useRecord(record: RecordView, captures: CaptureSource | null = null): Promise<FenceState[]> {
    return this.#parts.ctx.fencing.attach(record, this.#parts.ctx.redis, captures);
  }

  /** Checks every partition against PostgreSQL's markers now (fencing what is behind or empty); their states after. */
  checkFences(): Promise<FenceState[]> {
    return this.#parts.ctx.fencing.check();
  }

  /** Every partition's fence state, as Redis has it now. */
  fences(): Promise<FenceState[]> {
    return this.#parts.ctx.fencing.fences();
  }

  /** Whether any partition is fenced or not initialised (readiness). */
  async isFenced(): Promise<boolean> {
    return (await this.fences()).some((f) => f.fenced !== null);
  }

  /** Fences a partition (write-through's backstop, repair); the reason it is fenced for (its first). */
  fence(partition: number, reason: string): Promise<string> {
    return this.#parts.ctx.fencing.fence(partition, reason);
  }

  /** Lifts a partition's fence if the stores agree (drained outbox, per-SKU total and sold equal); else what differs. */
  liftFence(partition: number): Promise<LiftOutcome> {
    return this.#parts.ctx.fencing.liftFence(partition);
  }

  /** What a rebuild would replace, per partition. */
  partitionContents(): Promise<PartitionContents[]> {
    return partitionContents(this.#parts.ctx);
  }

  /** A rebuild's first step: every partition's init removed, so nothing is granted (and nothing changes) until it is rebuilt. */
  uninitialise(): Promise<void> {
    return uninitialise(this.#parts.ctx);
  }

  /**
   * Rebuilds one (uninitialised) partition from PostgreSQL's snapshot of it (`reconcile rebuild`): its init is set last, with
   * its fence lifted. Refused (ASSERTION) while its outbox holds entries not yet written through.
   */
  rebuildPartition(partition: number, snapshot: RecordSnapshot): Promise<RebuiltPartition> {
    return rebuildPartition(this.#parts.ctx, this.#parts.ctx.fencing, partition, snapshot);
  }

  /** Called once per partition when this process first sees it fenced (for a log line). */
  onFenced(listener: (partition: number, reason: string) => void): void {
    this.#parts.ctx.fencing.onFenced = listener;
  }

  // Catalog and stock.

  createProduct(input: ProductInput): Promise<CreateProductOutcome> {
    return this.#parts.products.create(input);
  }

  getProduct(sku: string): Promise<Product | null> {
    return this.#parts.products.get(sku);
  }

  /** A page of products in SKU order, after `after`; `next` is the SKU to continue after, or null. */
  listProducts(after: string | null, limit: number): Promise<{ items: Product[]; next: string | null }> {
    return this.#parts.products.list(after, limit);
  }

  /**
   * Restock (delta > 0) or shrink (delta < 0). With an idempotency key (scoped
   * by the caller) a retry applies once and answers the first outcome; the
   * same key with another sku or delta is refused.
   */
  async adjustStock(sku: string, delta: number, o: { idempotencyKey?: string } = {}): Promise<AdjustStockOutcome> {
    const { products, claims } = this.#parts;
    if (o.idempotencyKey === undefined) return this.#freedBy(sku, delta, await products.adjustStock(sku, delta));
    const claim = await claims.claim(o.idempotencyKey, fingerprints.stock(sku, delta), randomUUID());
    if (claim.kind === 'reused') return { kind: 'key_reused' };
    const out = this.#freedBy(sku, delta, await products.adjustStock(sku, delta, claim.id));
    return claim.kind === 'replay' ? { kind: 'duplicate', of: out } : out;
  }

  /** This process sees its own restock at once (other processes by the freed message, or the flag's end). */
  #freedBy<T extends AdjustStockOutcome>(sku: string, delta: number, out: T): T {
    if (delta > 0 && out.kind === 'adjusted') this.#soldOut.freed(sku);
    return out;
  }

  // Holds.

  /** Reserves a cart, all or nothing; with an idempotency key (scoped by the caller) a retry answers the first outcome. */
  reserve(req: ReserveRequest): Promise<ReserveOutcome> {
    return this.#parts.maker.reserve(req);
  }

  /** Whether this request (its scoped key and body) would be answered from its first request: claims nothing. */
  isReplay(req: ReserveRequest): Promise<boolean> {
    return this.#parts.maker.isReplay(req);
  }

  /**
   * A reservation as a client may see it (never a pending cart or a refusal), its status as of the scripts' clock;
   * with `owner`, null unless it is that user's.
   */
  getReservation(id: string, owner?: string): Promise<Reservation | null> {
    return this.#parts.holds.get(id, owner);
  }

  /**
   * A reservation as getReservation reads it, from a fenced partition too: the
   * reconciler's look at what a Redis that went back in time holds (clients get
   * 503 from a fenced partition).
   */
  inspectReservation(id: string): Promise<Reservation | null> {
    return this.#parts.holds.get(id, undefined, 'read');
  }

  /** The status of each id's hold record in one partition (null: none), fenced or not: the reconciler's read. */
  holdStatusesAt(partition: number, ids: string[]): Promise<(HoldStatus | null)[]> {
    return this.#parts.holds.statusesAt(partition, ids);
  }

  /** On Redis Cluster, the address of every node the client knows (other clients' startup nodes); null on a single Redis. */
  clusterNodes(): { host: string; port: number }[] | null {
    const { redis } = this.#parts.ctx;
    if (!redis.isCluster) return null;
    return (redis as Cluster).nodes('all').map((n) => ({ host: String(n.options.host), port: Number(n.options.port) }));
  }

  /**
   * On Redis Cluster, how many partitions each master holds (by the master of
   * each partition's slot, as the client last read the slot map; a master
   * with none is listed with 0). Null on a single Redis.
   */
  async partitionsPerMaster(): Promise<Map<string, number> | null> {
    const { redis, keys } = this.#parts.ctx;
    if (!redis.isCluster) return null;
    const cluster = redis as Cluster;
    if (cluster.status !== 'ready') await new Promise((resolve) => cluster.once('ready', resolve));
    const counts = new Map(cluster.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, 0]));
    for (let p = 0; p < this.settings.partitions; p++) {
      const master = cluster.slots[keySlot(keys.partition(p).meta)]?.[0];
      if (master) counts.set(master, (counts.get(master) ?? 0) + 1);
    }
    return counts;
  }

  /** held -> paying (the saga's pivot is next); see Holds.beginPayment. */
  beginPayment(id: string): Promise<BeginPaymentOutcome> {
    return this.#parts.holds.beginPayment(id);
  }

  /** paying -> confirmed after a captured payment; repeatable. */
  commit(id: string, payment: PaymentRecord): Promise<CommitOutcome> {
    return this.#parts.holds.commit(id, payment);
  }

  /** Gives a hold's units back: by the client, or by the saga (declined, voided, compensate); with `owner`, only that user's hold. */
  async release(id: string, mode: ReleaseMode = 'client', owner?: string): Promise<ReleaseOutcome> {
    const out = await this.#parts.holds.release(id, mode, owner);
    if (out.kind === 'released') this.#soldOut.clear(); // its SKUs are not at hand: this process asks Redis afresh for every SKU
    return out;
  }

  /** Notes the refund of a capture that landed on a released hold (written through to PostgreSQL). */
  recordRefund(id: string, refund: RefundNote): Promise<void> {
    return this.#parts.holds.recordRefund(id, refund);
  }

  // Sweeps.

  /** One pass of the sweeper: expires due holds and purges records past retention, every partition and shard. */
  async sweepOnce(): Promise<SweepReport> {
    const report = await this.#parts.sweeper.sweepOnce();
    if (report.expired > 0) this.#soldOut.clear();
    return report;
  }

  /** Adds a sweep run's counts (or, with durationMs null, an iteration skipped) to the stack-wide sweep stats in Redis. */
  recordSweep(sweep: string, counts: SweepCounts, durationMs: number | null): Promise<void> {
    return recordSweepRun(this.#parts.ctx, sweep, counts, durationMs);
  }

  /** What every sweep did, summed over every run in every process (read by GET /metrics). */
  sweepStats(): Promise<SweepStats> {
    return readSweepStats(this.#parts.ctx);
  }

  /** Keeps a sweep's last report (text, bounded), replacing the one before: what verify found, for GET /metrics. */
  recordSweepReport(sweep: string, text: string): Promise<void> {
    return recordSweepReport(this.#parts.ctx, sweep, text);
  }

  /** A sweep's last report, or null before its first. */
  sweepReport(sweep: string): Promise<string | null> {
    return readSweepReport(this.#parts.ctx, sweep);
  }

  // The reconciler's view of Redis (verify) and its repairs.

  /** One partition's SKU counts, undrained and parked outbox events, read together at one instant. */
  partitionSnapshot(partition: number): Promise<PartitionSnapshot> {
    return this.#audit.snapshot(partition);
  }

  /** A partition's holds (and payments) more than lateByMs past their deadline, by the scripts' clock. */
  overdueHolds(partition: number, lateByMs: number): Promise<OverdueHold[]> {
    return this.#audit.overdue(partition, lateByMs);
  }

  /** Units per SKU that a partition's live hold records reserve (scans its holds: for repair, not the hot path). */
  reservedByHolds(partition: number): Promise<Map<string, number>> {
    return this.#audit.reservedByHolds(partition);
  }

  /** Recreates the order of a capture Redis and PostgreSQL both lost (units available -> sold and its order events; a cart part by part, all or nothing). */
  restoreLostOrder(order: Omit<LostOrder, 'orderId'> & { orderId?: string }): Promise<RestoreOutcome> {
    return this.#lostOrders.restore(order);
  }

  /** Commits one missing part of an order whose home part PostgreSQL has (see LostOrders.completePart). */
  completeOrderPart(part: Parameters<LostOrders['completePart']>[0]): Promise<RestoreOutcome> {
    return this.#lostOrders.completePart(part);
  }

  /** In a fenced partition, records as confirmed a hold whose order part PostgreSQL has (no count moves; repair aligns the counts next). */
  confirmRecord(part: OrderPart): Promise<ConfirmRecordReply> {
    return this.#lostOrders.confirmRecord(part);
  }

  /** Sets a SKU's counts (total and sold only where given), unless its counts moved since they were read as `read`. */
  resetCounts(sku: string, read: Stock, next: NextCounts): Promise<ResetCountsReply> {
    return this.#audit.resetCounts(sku, read, next);
  }

  // Redis memory, rate limits, statistics.

  /** False while Redis memory is past its high watermark: no new idempotency claim should be made then. */
  hasMemoryRoom(): Promise<boolean> {
    return this.#parts.ctx.memory.hasRoom();
  }

  /** Redis memory as last read (asked afresh with `fresh`). */
  async memory(fresh = false): Promise<MemoryState> {
    if (fresh) await this.#parts.ctx.memory.refresh();
    return this.#parts.ctx.memory.current;
  }

  /**
   * Counts one request of `subject` in a fixed window of windowMs shared by every
   * process; allowed while the window's count is within `limit`.
   */
  hitRateLimit(subject: string, limit: number, windowMs: number): Promise<RateLimitHit> {
    const window = Math.floor(Date.now() / windowMs);
    // Spread counters over 16 slots by subject; the window start is in the name.
    const key = `${this.settings.keyPrefix}{rl:${fnv1a(subject) % 16}}:${subject}:${window}`;
    return hitRateLimit(this.#parts.ctx, key, limit, windowMs);
  }

  /** Requests queued or in flight in the group-commit batchers. */
  queueDepths(): { reserveBatches: number; keyClaims: number } {
    return { reserveBatches: this.#parts.maker.batches.pending, keyClaims: this.#parts.claims.batches.pending };
  }

  /** Holds by state and expiries over every partition, as the scripts count them in Redis (one read per partition). */
  holdCounts(): Promise<HoldCounts> {
    return readHoldCounts(this.#parts.ctx);
  }

  /** The sizes of the reserve batches sent since the last call (for a histogram). */
  takeBatchSizes(): number[] {
    return this.#parts.maker.batches.takeBatchSizes();
  }
}
