import type { Engine } from '../engine/engine.ts';
import type { Logger } from '../engine/log.ts';

/** A small flash sale through the engine: 200 buyers, 20 units; some pay, some walk away. */
export async function runDemo(engine: Engine, log: Logger): Promise<void> {
  const sku = `DEMO-${Date.now()}`;
  await engine.createProduct({ sku, name: 'Demo sneaker', priceCents: 12_900, stock: 20, perUserLimit: 2 });
  const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    engine.reserve({ userId: `buyer-${i}`, items: [{ sku, qty: 1 }], idempotencyKey: `demo-${sku}-${i}` })));
  const held = outcomes.flatMap((o) => (o.kind === 'held' ? [o.reservation] : []));
  for (const [i, r] of held.entries()) {
    if (i % 4 === 3) {
      await engine.release(r.id);
      continue;
    }
    await engine.beginPayment(r.id);
    await engine.commit(r.id, { amountCents: r.totalCents, reference: `demo-${r.id}` });
  }
  const product = await engine.getProduct(sku);
  log.info({ sku, buyers: 200, held: held.length, stock: product?.stock }, 'demo flash sale done');
}
