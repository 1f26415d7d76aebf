import { StockadeError } from '../common/errors.ts';

/** Sends one batch of one group (a partition or key shard) to Redis; one reply per request, in order. */
export type BatchSink<Req, Res> = (group: number, requests: Req[]) => Promise<Res[]>;

interface Waiter<Req, Res> {
  request: Req;
  resolve: (result: Res) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitLimits {
  batchSizeMax: number;
  inflightMax: number;
}

/**
 * Group commit: requests for the same group that arrive in the same event-loop
 * turn go to Redis as one call, in arrival order, and each caller gets its own
 * reply. A group's queue is flushed early once it holds batchSizeMax requests.
 * At most inflightMax requests are queued or in flight; past that, OVERLOADED.
 */
export class GroupCommit<Req, Res> {
  private readonly queues = new Map<number, Waiter<Req, Res>[]>();
  private flushScheduled = false;
  private inflight = 0;
  private readonly batchSizes: number[] = [];

  constructor(
    private readonly sink: BatchSink<Req, Res>,
    private readonly limits: GroupCommitLimits,
  ) {}

  submit(group: number, request: Req): Promise<Res> {
    if (this.inflight >= this.limits.inflightMax) {
      return Promise.reject(new StockadeError('OVERLOADED', `more than ${this.limits.inflightMax} requests in flight`));
    }
    this.inflight += 1;
    return new Promise<Res>((resolve, reject) => {
      let queue = this.queues.get(group);
      if (!queue) {
        queue = [];
        this.queues.set(group, queue);
      }
      queue.push({ request, resolve, reject });
      if (queue.length >= this.limits.batchSizeMax) {
        this.send(group, queue.splice(0, queue.length));
      } else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushAll());
      }
    });
  }

  /** Requests queued or in flight now. */
  get pending(): number {
    return this.inflight;
  }

  /** Sizes of the batches sent since the last call (for metrics and benchmarks). */
  takeBatchSizes(): number[] {
    return this.batchSizes.splice(0, this.batchSizes.length);
  }

  private flushAll(): void {
    this.flushScheduled = false;
    for (const [group, queue] of this.queues) {
      if (queue.length > 0) this.send(group, queue.splice(0, queue.length));
    }
  }

  private send(group: number, batch: Waiter<Req, Res>[]): void {
    if (this.batchSizes.length < 10_000) this.batchSizes.push(batch.length);
    this.sink(group, batch.map((w) => w.request)).then(
      (results) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    ).finally(() => {
      this.inflight -= batch.length;
    });
  }
}
