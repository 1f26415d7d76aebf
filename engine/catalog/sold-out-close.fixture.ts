// Run by sold-out-audit.test.ts as a process of its own (argv: the Redis URL, a key prefix): closes the engine while a reserve of a
// sold-out SKU is in flight, then quits Redis, as runtime.close() does. Nothing may keep it running.
import { Redis } from 'ioredis';
import { emptyRecord, Engine } from '../index.ts';

const [redisUrl, keyPrefix] = process.argv.slice(2) as [string, string];
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
const engine = Engine.create(redis, { keyPrefix, soldOutCacheMs: 100 }, {});
await engine.useRecord(emptyRecord);
const sku = 'SO-close';
await engine.createProduct({ sku, name: sku, priceCents: 100, stock: 0 });
const inFlight = engine.reserve({ userId: 'u', items: [{ sku, qty: 1 }] });
await engine.close();
const out = await inFlight;
process.stdout.write(`${JSON.stringify({ kind: out.kind, available: out.kind === 'out_of_stock' ? out.available : null })}\n`);
await redis.quit();
