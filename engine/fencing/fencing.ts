import type { Cluster, Redis } from 'ioredis';
import { StockadeError } from '../../common/errors.ts';
import type { EngineContext } from '../redis/context.ts';
import { partitionOf } from '../redis/partition.ts';
import { checkFence, liftFence, setFence, type CheckFenceReply, type FencedReply } from '../redis/scripts/fence.ts';
import { perPartition } from '../redis/per-partition.ts';
import { lostCaptures, type CaptureSource } from './lost-captures.ts';

/** How far write-through got in one partition: the highest outbox sequence number written to PostgreSQL, and its event. */
export interface Mark {
  seq: number;
  eventId: string;
}

/** PostgreSQL (the system of record) as fencing and rebuild read it; store/marks.ts is the one implementation. */
export interface RecordView {
  /** Per partition with a marker, the marker. */
  marks(): Promise<Map<number, Mark>>;
  /** Every SKU PostgreSQL has a product for. */
  productSkus(): Promise<string[]>;
  /** PostgreSQL's total (its ledger's latest) and sold (its orders' items) of each of these SKUs it knows. */
  stockOf(skus: string[]): Promise<Map<string, { total: number; sold: number }>>;
}

/** A system of record that holds nothing: for tests and benchmarks that run the engine without PostgreSQL. */
export const emptyRecord: RecordView = {
  marks: async () => new Map(),
  productSkus: async () => [],
  stockOf: async () => new Map(),
};

/** One partition's fence as Redis has it. */
export interface FenceState {
  partition: number;
  /** Whether the partition was initialised (a fresh install or a rebuild); false after FLUSHALL or on an empty Redis. */
  initialised: boolean;
  /** Why it is fenced ('empty' when not initialised), or null. */
  fenced: string | null;
  /** Its outbox sequence number in Redis. */
  seq: number;
}

/**
 * How long a call that would grant waits for this process's check of Redis
 * against PostgreSQL (at start, after a reconnect) before it is refused
 * (FENCED, 'unchecked': 503). Not a setting: a bound on a wait, not a size.
 */
const checkWaitMs = 3_000;
/** Comparisons of a restarted redis-server's holds with the captures one check makes at most (it restarted again during each). */
const restartRoundsMax = 3;

/**
 * Fencing (DESIGN.md §3): no partition grants a hold, a stock change, a new
 * product, a payment start or a commit while its Redis may be behind
 * PostgreSQL. The scripts refuse by themselves (lua/includes/fence.lua) when a
 * partition is fenced, not initialised, or not checked since its
 * redis-server started; this process checks every partition against
 * PostgreSQL's markers at start and whenever its connection is ready again,
 * and holds granting calls until that check has run.
 */
export class Fencing {
  private record: RecordView | null = null;
  private captures: CaptureSource | null = null;
  private checking: Promise<FenceState[]> | null = null;
  /** Bumped when the connection closes: a check that began before it does not count. */
  private generation = 0;
  private checked = false;
  /** Why the last check (or a script) found each fenced partition fenced. */
  private readonly known = new Map<number, string>();
  onFenced: ((partition: number, reason: string) => void) | null = null;

  constructor(private readonly ctx: EngineContext) {}

  /**
   * Checks now, and again after every reconnect of `redis` (which this process's granting calls use). With
   * `captures` (the payment provider), a redis-server that restarted is also compared with the captures of the
   * last redisLossWindowMs before it grants: a partition that lost a paid order is fenced.
   */
  attach(record: RecordView, redis: Redis | Cluster, captures: CaptureSource | null = null): Promise<FenceState[]> {
    this.record = record;
    this.captures = captures;
    redis.on('close', () => {
      this.generation += 1;
      this.checked = false;
    });
    redis.on('ready', () => void this.check().catch(() => {}));
    return this.check();
  }

  /** Compares every partition with PostgreSQL's markers (once at a time: concurrent callers share it). */
  check(): Promise<FenceState[]> {
    if (!this.record) throw new StockadeError('ASSERTION', 'fencing has no system of record attached (Engine.useRecord)');
    return (this.checking ??= this.runCheck(this.record).finally(() => { this.checking = null; }));
  }

  private async runCheck(record: RecordView): Promise<FenceState[]> {
    const generation = this.generation;
    let replies = await this.checkAll(record, '');
    // A partition initialised just now while another process filled PostgreSQL (a FLUSHALL under a
    // starting process): the second pass compares its seq with the marker it missed.
    if (replies.some((r) => r.kind === 'checked' && r.state === 'initialised')) replies = await this.checkAll(record, '');
    // A redis-server that restarted: its holds compared with the provider's recent captures, then checked
    // again naming the run_id compared against (a server that restarted once more meanwhile is compared again).
    for (let round = 0; round < restartRoundsMax && replies.some((r) => r.kind === 'restarted'); round++) {
      const runId = await this.fenceLostCaptures(replies);
      replies = await this.checkAll(record, runId);
    }
    if (generation === this.generation && !replies.some((r) => r.kind === 'restarted')) this.checked = true;
    this.known.clear();
    replies.forEach((r, p) => { if (r.kind === 'fenced') this.known.set(p, r.reason); });
    return this.fences();
  }

  /** Fences each restarted partition that lost a paid order; the run_id its holds were read from. */
  private async fenceLostCaptures(replies: CheckFenceReply[]): Promise<string> {
    const restarted = replies.flatMap((r, p) => (r.kind === 'restarted' ? [{ p, runId: r.runId }] : []));
    const runId = restarted[0]!.runId;
    const partitions = new Set(restarted.filter((r) => r.runId === runId).map((r) => r.p));
    const lost = await lostCaptures(this.ctx, this.captures!, partitions, Date.now() - this.ctx.settings.redisLossWindowMs);
    for (const [partition, ids] of lost) {
      await this.fence(partition, `lost ${ids.length} paid order(s) (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', ...' : ''}): `
        + 'redis-server came back without them');
    }
    return runId;
  }

  /** `compared`: the run_id whose holds this process compared with the captures ('' before it has); null without captures. */
  private async checkAll(record: RecordView, compared: string): Promise<CheckFenceReply[]> {
    const { partitions } = this.ctx.settings;
    const marks = await record.marks();
    const inits = await perPartition(partitions, async (p) => (await this.ctx.redis.hexists(this.ctx.keys.partition(p).meta, 'init')) === 1);
    const needsProducts = inits.some((init, p) => !init && !marks.has(p));
    const withProducts = needsProducts
      ? new Set((await record.productSkus()).map((sku) => partitionOf(sku, partitions))) : new Set<number>();
    const now = Date.now();
    return Promise.all(inits.map((_, p) =>
      checkFence(this.ctx, p, marks.get(p)?.seq ?? 0, marks.has(p) || withProducts.has(p), now, this.captures ? compared : null)));
  }

  /**
   * Runs a granting script call: after this process's check (waited for, bounded), and once more after a
   * check when the script found its redis-server unchecked (it restarted under this process). A fenced
   * partition's refusal is thrown as FENCED (503 /problems/fenced).
   */
  async guard<T>(partition: number, call: () => Promise<T | FencedReply>): Promise<T> {
    await this.ready();
    let reply = await call();
    if (isFenced(reply) && reply.reason === 'unchecked' && this.record) {
      this.checked = false;
      await this.ready();
      reply = await call();
    }
    if (isFenced(reply)) throw this.refusal(partition, reply.reason);
    return reply;
  }

  /** Waits (bounded) until this process has checked Redis since it last connected; no wait without a system of record. */
  async ready(): Promise<void> {
    if (this.checked || !this.record) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), checkWaitMs); });
    try {
      // A check that failed (Redis or PostgreSQL away) fails the call with its error: 503 unavailable.
      await Promise.race([this.check(), late]);
    } finally {
      clearTimeout(timer);
    }
    if (!this.checked) throw new StockadeError('FENCED', 'Redis has not been checked against PostgreSQL since it (re)connected; retry shortly');
  }

  /** Whether this process may answer for the partition without a script (checked since it connected, not known fenced): no Redis call. */
  mayAnswer(partition: number): boolean {
    return this.checked && !this.known.has(partition);
  }

  /** FENCED for a read of a partition that is fenced (or not initialised), else nothing. */
  async assertReadable(partition: number): Promise<void> {
    await this.ready();
    const [init, fenced] = await this.ctx.redis.hmget(this.ctx.keys.partition(partition).meta, 'init', 'fenced');
    const reason = fenced ?? (init === null ? 'empty' : null);
    if (reason !== null) throw this.refusal(partition, reason);
  }

  private refusal(partition: number, reason: string): StockadeError {
    if (!this.known.has(partition)) this.onFenced?.(partition, reason);
    this.known.set(partition, reason);
    return new StockadeError('FENCED', `partition ${partition} is fenced (${reason}): Redis may be behind PostgreSQL; `
      + '`stockade reconcile repair` or `reconcile rebuild` makes them agree');
  }

  /** Every partition's fence as Redis has it now (one HMGET each, sent together). */
  async fences(): Promise<FenceState[]> {
    return perPartition(this.ctx.settings.partitions, async (partition) => {
      const [init, fenced, seq] = await this.ctx.redis.hmget(this.ctx.keys.partition(partition).meta, 'init', 'fenced', 'seq');
      return { partition, initialised: init !== null, fenced: fenced ?? (init === null ? 'empty' : null), seq: Number(seq ?? 0) };
    });
  }

  /** Fences a partition with a reason (the first reason of a fence stays). */
  async fence(partition: number, reason: string): Promise<string> {
    const out = await setFence(this.ctx, partition, reason);
    this.known.set(partition, out.reason);
    return out.reason;
  }

  /**
   * Lifts a partition's fence once the stores agree: its outbox and parked entries are written through,
   * and every SKU's total and sold in Redis equal PostgreSQL's. Otherwise says what differs and lifts nothing.
   */
  async liftFence(partition: number): Promise<LiftOutcome> {
    const record = this.requireRecord();
    const differences = await this.differences(record, partition);
    if (differences.length > 0) return { kind: 'disagree', differences };
    const out = await liftFence(this.ctx, partition, (await record.marks()).get(partition)?.seq ?? 0, false, Date.now());
    if (out.kind !== 'lifted') return { kind: 'disagree', differences: ['the partition is not initialised: run `reconcile rebuild`'] };
    this.known.delete(partition);
    return { kind: 'lifted', seq: out.seq };
  }

  /** Initialises a rebuilt partition and lifts its fence (`reconcile rebuild`'s last write for it). */
  async initialise(partition: number, markSeq: number): Promise<void> {
    const out = await liftFence(this.ctx, partition, markSeq, true, Date.now());
    if (out.kind !== 'lifted') throw new StockadeError('ASSERTION', `partition ${partition} was not initialised: ${out.reason}`);
    this.known.delete(partition);
  }

  private requireRecord(): RecordView {
    if (!this.record) throw new StockadeError('ASSERTION', 'fencing has no system of record attached (Engine.useRecord)');
    return this.record;
  }

  /** What differs between Redis and PostgreSQL in a partition, in words (empty when they agree). */
  private async differences(record: RecordView, partition: number): Promise<string[]> {
    const k = this.ctx.keys.partition(partition);
    const [outbox, parked, fields] = await Promise.all([this.ctx.redis.xlen(k.outbox), this.ctx.redis.xlen(k.parked),
      this.ctx.redis.hgetall(k.skus)]);
    const out: string[] = [];
    if (outbox > 0) out.push(`${outbox} outbox entries not yet written through`);
    if (parked > 0) out.push(`${parked} parked outbox entries`);
    const redisStock = new Map<string, { total: number; sold: number }>();
    for (const [field, value] of Object.entries(fields)) {
      const sku = field.slice(0, -2);
      const entry = redisStock.get(sku) ?? { total: 0, sold: 0 };
      if (field.endsWith(':t')) entry.total = Number(value);
      else if (field.endsWith(':s')) entry.sold = Number(value);
      else continue;
      redisStock.set(sku, entry);
    }
    const skusOfPartition = (await record.productSkus()).filter((sku) => partitionOf(sku, this.ctx.settings.partitions) === partition);
    const recordStock = await record.stockOf([...new Set([...skusOfPartition, ...redisStock.keys()])]);
    for (const sku of new Set([...recordStock.keys(), ...redisStock.keys()])) {
      const r = redisStock.get(sku);
      const pg = recordStock.get(sku);
      if (!r || !pg || r.total !== pg.total || r.sold !== pg.sold) {
        out.push(`${sku}: Redis total ${r?.total ?? '-'} sold ${r?.sold ?? '-'}, PostgreSQL total ${pg?.total ?? '-'} sold ${pg?.sold ?? '-'}`);
      }
    }
    return out;
  }
}

export type LiftOutcome = { kind: 'lifted'; seq: number } | { kind: 'disagree'; differences: string[] };

function isFenced(reply: unknown): reply is FencedReply {
  return typeof reply === 'object' && reply !== null && (reply as { kind?: unknown }).kind === 'fenced';
}
