import { randomUUID } from 'node:crypto';
import { SkuIndex, listLimitMax } from './sku-index.ts';
import type { EngineContext } from '../redis/context.ts';
import { partitionOf } from '../redis/partition.ts';
import { adjustStock } from '../redis/scripts/adjustStock.ts';
import { createProduct } from '../redis/scripts/createProduct.ts';
import type { AdjustStockResult, CreateProductOutcome, Product, ProductInput } from '../types.ts';
import { deltaProblem, productProblem, skuPattern } from '../validate.ts';

const productFields = (sku: string) =>
  [':n', ':p', ':l', ':t', ':a', ':r', ':s'].map((suffix) => sku + suffix);

/** The catalog: products, their stock counts, restock and shrink. */
export class ProductCatalog {
  readonly catalog: SkuIndex;
  constructor(private readonly ctx: EngineContext) {
    this.catalog = new SkuIndex(ctx);
  }

  private partitionOf(sku: string): number {
    return partitionOf(sku, this.ctx.settings.partitions);
  }

  private keysOf(sku: string) {
    return this.ctx.keys.partition(this.partitionOf(sku));
  }

  /**
   * `operationId` makes a retry of the same call answer its first reply (a
   * resend of the script is covered either way: each call has its own id).
   */
  async create(input: ProductInput, operationId: string = randomUUID()): Promise<CreateProductOutcome> {
    const problem = productProblem(input);
    if (problem) return { kind: 'invalid', detail: problem };
    const created = await createProduct(this.ctx, this.partitionOf(input.sku), input, operationId);
    await this.catalog.add(input.sku);
    if (created === 'exists') return { kind: 'exists' };
    const product = await this.get(input.sku);
    return { kind: 'created', product: product! };
  }

  async adjustStock(sku: string, delta: number, operationId: string = randomUUID()): Promise<AdjustStockResult> {
    if (!skuPattern.test(sku)) return { kind: 'not_found' };
    const problem = deltaProblem(delta);
    if (problem) return { kind: 'invalid', detail: problem };
    const reply = await adjustStock(this.ctx, this.partitionOf(sku), sku, delta, operationId);
    if (reply.kind !== 'adjusted') return reply;
    return { kind: 'adjusted', product: (await this.get(sku))! };
  }

  /** A page of products in SKU order, after `after`; `next` is the SKU to continue after, or null. */
  async list(after: string | null, limit: number): Promise<{ items: Product[]; next: string | null }> {
    const { skus, more } = await this.catalog.page(after, Math.min(Math.max(1, limit), listLimitMax));
    const found = await Promise.all(skus.map((sku) => this.get(sku)));
    const items = found.filter((p): p is Product => p !== null);
    return { items, next: more ? skus[skus.length - 1]! : null };
  }

  async get(sku: string): Promise<Product | null> {
    if (!skuPattern.test(sku)) return null;
    const [, v] = await Promise.all([this.ctx.fencing.assertReadable(this.partitionOf(sku)),
      this.ctx.redis.hmget(this.keysOf(sku).skus, ...productFields(sku))]);
    return v[0] === null ? null : productOf(sku, v);
  }
}

function productOf(sku: string, v: (string | null)[]): Product {
  const n = (i: number) => Number(v[i]);
  return {
    sku,
    name: v[0]!,
    priceCents: n(1),
    perUserLimit: n(2),
    stock: { total: n(3), available: n(4), reserved: n(5), sold: n(6) },
  };
}
