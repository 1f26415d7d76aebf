import { listLimitMax, skuPattern } from '../../engine/index.ts';
import type { ApiDeps } from '../deps.ts';
import { limitParam } from '../http.ts';
import { adjustStockReply, createProductReply } from '../outcomes.ts';
import { scopedKey } from '../idempotency.ts';
import { problem } from '../problems.ts';
import { withBody, type Route } from '../router.ts';
import { pageQuery, Product, ProductPage, skuSchema } from '../schemas.ts';
import { cursor, productView } from '../views.ts';

export const productListLimitDefault = 50;

export function productRoutes(d: ApiDeps): Route[] {
  return [
    withBody(d.validators.createProduct, { method: 'post', pattern: '/v1/products', operationId: 'createProduct', summary: 'Create a product',
      tag: 'products', access: 'admin', responses: { 201: { description: 'the product', schema: Product, headers: ['Location'] } },
      problems: ['product-exists'], handler: async (req) => {
        const b = req.body;
        const out = await d.engine.createProduct({ sku: b.sku, name: b.name, priceCents: b.price_cents, stock: b.stock,
          perUserLimit: b.per_user_limit ?? 0 });
        return createProductReply(out, b.sku);
      } }),
    { method: 'get', pattern: '/v1/products', operationId: 'listProducts', summary: 'List products in SKU order', tag: 'products',
      access: 'token', query: pageQuery(productListLimitDefault, listLimitMax), responses: { 200: { description: 'a page of products', schema: ProductPage } },
      problems: ['bad-request'], handler: async (req) => {
        const limit = limitParam(req.query, productListLimitDefault, listLimitMax);
        if (limit === null) return problem('bad-request', `limit must be an integer in 1..${listLimitMax}`);
        const text = req.query.get('cursor');
        const after = text === null ? null : cursor.decode(text);
        if (text !== null && (after === null || !skuPattern.test(after))) return problem('bad-request', 'cursor is not one this API gave');
        const page = await d.engine.listProducts(after, limit);
        return { status: 200, body: { items: page.items.map(productView), next_cursor: page.next === null ? null : cursor.encode(page.next) } };
      } },
    { method: 'get', pattern: '/v1/products/:sku', operationId: 'getProduct', summary: 'A product with its stock', tag: 'products',
      access: 'token', params: { sku: skuSchema }, responses: { 200: { description: 'the product', schema: Product } },
      problems: ['not-found'], handler: async (req) => {
        const product = await d.engine.getProduct(req.params[0]!);
        return product ? { status: 200, body: productView(product) } : problem('not-found', `no product ${req.params[0]!.slice(0, 64)}`);
      } },
    withBody(d.validators.adjustStock, { method: 'post', pattern: '/v1/products/:sku/stock', operationId: 'adjustStock',
      summary: 'Restock (delta > 0) or shrink (delta < 0)', tag: 'products', access: 'admin', idempotencyKey: 'optional',
      params: { sku: skuSchema }, responses: { 200: { description: 'the product', schema: Product } },
      problems: ['not-found', 'stock-would-go-negative', 'invalid-request', 'idempotency-key-reused'], handler: async (req) => {
        const sku = req.params[0]!;
        const idempotencyKey = req.idempotencyKey ? scopedKey(req, 'stock', req.idempotencyKey) : undefined;
        return adjustStockReply(await d.engine.adjustStock(sku, req.body.delta, { idempotencyKey }), sku.slice(0, 64));
      } }),
  ];
}
