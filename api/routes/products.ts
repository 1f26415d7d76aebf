import { listLimitMax } from '../../engine/index.ts';
import type { ApiDeps } from '../deps.ts';
import { limitParam } from '../http.ts';
import { adjustStockReply, createProductReply } from '../outcomes.ts';
import { idempotencyKeyOf, scopedKey } from '../idempotency.ts';
import { problem } from '../problems.ts';
import type { Route } from '../router.ts';
import { cursor, productView } from '../views.ts';

export const productListLimitDefault = 50;

export function productRoutes(d: ApiDeps): Route[] {
  return [
    { method: 'post', pattern: '/v1/products', access: 'admin', body: true, handler: async (req) => {
      const v = d.validators.createProduct.check(req.body);
      if (!v.ok) return problem('invalid-request', v.detail);
      const b = v.value;
      const out = await d.engine.createProduct({ sku: b.sku, name: b.name, priceCents: b.price_cents, stock: b.stock,
        perUserLimit: b.per_user_limit ?? 0 });
      return createProductReply(out, b.sku);
    } },
    { method: 'get', pattern: '/v1/products', access: 'token', body: false, handler: async (req) => {
      const limit = limitParam(req.query, productListLimitDefault, listLimitMax);
      if (limit === null) return problem('bad-request', `limit must be an integer in 1..${listLimitMax}`);
      const after = req.query.get('cursor');
      const page = await d.engine.listProducts(after ? cursor.decode(after) : null, limit);
      return { status: 200, body: { items: page.items.map(productView), next_cursor: page.next === null ? null : cursor.encode(page.next) } };
    } },
    { method: 'get', pattern: '/v1/products/:sku', access: 'token', body: false, handler: async (req) => {
      const product = await d.engine.getProduct(req.params[0]!);
      return product ? { status: 200, body: productView(product) } : problem('not-found', `no product ${req.params[0]!.slice(0, 64)}`);
    } },
    { method: 'post', pattern: '/v1/products/:sku/stock', access: 'admin', body: true, handler: async (req) => {
      const v = d.validators.adjustStock.check(req.body);
      if (!v.ok) return problem('invalid-request', v.detail);
      const k = idempotencyKeyOf(req, false);
      if ('reply' in k) return k.reply;
      const sku = req.params[0]!;
      const idempotencyKey = k.key ? scopedKey(req, 'stock', k.key) : undefined;
      return adjustStockReply(await d.engine.adjustStock(sku, v.value.delta, { idempotencyKey }), sku.slice(0, 64));
    } },
  ];
}
