import type { EngineContext } from '../redis/context.ts';

export const listLimitMax = 100;

/** The catalog index's key (its own slot). */
export function catalogKey(prefix: string): string {
  return `${prefix}{catalog}:skus`;
}

/**
 * The catalog index: every SKU in one lexicographic sorted set, for listing
 * products page by page. It lives in its own slot ({catalog}), apart from the
 * partitions, and is written after a product is created (a repeat of the
 * create adds it again, so a crash in between heals on retry).
 */
export class SkuIndex {
  private readonly key: string;
  constructor(private readonly ctx: EngineContext) {
    this.key = catalogKey(ctx.settings.keyPrefix);
  }

  async add(sku: string): Promise<void> {
    await this.ctx.redis.zadd(this.key, 'NX', 0, sku);
  }

  /** Up to `limit` SKUs after `after` (exclusive), in order; and whether more follow. */
  async page(after: string | null, limit: number): Promise<{ skus: string[]; more: boolean }> {
    const from = after === null ? '-' : `(${after}`;
    const skus = await this.ctx.redis.zrangebylex(this.key, from, '+', 'LIMIT', 0, limit + 1);
    return { skus: skus.slice(0, limit), more: skus.length > limit };
  }
}
