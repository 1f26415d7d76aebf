import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchEngine, type EngineBenchOptions } from '../bench/engine-reserve.ts';
import { freePort } from '../services/process.ts';
import { startRedis, stopRedis } from '../services/redis.ts';
import { startLocalServices, stopLocalServices } from '../services/local.ts';
import { benchWriteThrough } from '../bench/writethrough.ts';
import { benchHttp } from '../bench/http-flash-sale.ts';
import { benchMemory } from '../bench/memory.ts';
import { serviceSettings } from '../settings/views.ts';

/** `stockade bench engine`: on REDIS_URL, or on a private redis-server started (and stopped) for the run. */
export async function benchEngineCommand(opts: { seconds: string; concurrency: string; scenario: string; json?: boolean }): Promise<void> {
  const given = serviceSettings().redisUrl;
  const dir = given ? null : mkdtempSync(join(tmpdir(), 'stockade-bench-'));
  const redisUrl = given ?? (await startRedis({ dir: dir!, port: await freePort() })).url;
  try {
    const scenarios = opts.scenario === 'all' ? ['hold', 'hold-idempotent', 'sold-out'] : [opts.scenario];
    for (const scenario of scenarios) {
      const result = await benchEngine({ redisUrl, seconds: Number(opts.seconds), concurrency: Number(opts.concurrency),
        scenario: scenario as EngineBenchOptions['scenario'] });
      console.log(opts.json ? JSON.stringify(result) : formatResult(result));
    }
  } finally {
    if (dir) await stopRedis(dir);
  }
}

function formatResult(r: Awaited<ReturnType<typeof benchEngine>>): string {
  return [
    `${r.scenario}: ${r.perSecond.toLocaleString('en-US')} requests/s (${r.requests} in all: ${JSON.stringify(r.outcomes)})`,
    `  mean batch ${r.batchMean} requests per script call`,
    `  Redis CPU ${r.redisCpuUsPerRequest} µs/request (inside scripts ${r.redisScriptUsPerRequest} µs); Node CPU ${r.nodeCpuUsPerRequest} µs/request`,
  ].join('\n');
}

/** `stockade bench memory`: Redis memory per hold, per claim and per recorded refusal, on a private redis-server. */
export async function benchMemoryCommand(opts: { count: string }): Promise<void> {
  const given = serviceSettings().redisUrl;
  const dir = given ? null : mkdtempSync(join(tmpdir(), 'stockade-bench-'));
  const redisUrl = given ?? (await startRedis({ dir: dir!, port: await freePort() })).url;
  try {
    console.log(JSON.stringify(await benchMemory({ redisUrl, count: Number(opts.count) }), null, 2));
  } finally {
    if (dir) await stopRedis(dir);
  }
}

/** `stockade bench writethrough`: on the given URLs, or on private (fsynced) services started and stopped for the run. */
export async function benchWriteThroughCommand(opts: { orders: string; rate: string; seconds: string }): Promise<void> {
  const { redisUrl, databaseUrl } = serviceSettings();
  const dir = redisUrl && databaseUrl ? null : mkdtempSync(join(tmpdir(), 'stockade-bench-'));
  const services = redisUrl && databaseUrl ? { redisUrl, databaseUrl } : await startLocalServices({ dataDir: dir! });
  try {
    const result = await benchWriteThrough({ redisUrl: services.redisUrl, databaseUrl: services.databaseUrl,
      orders: Number(opts.orders), ratePerSec: Number(opts.rate), seconds: Number(opts.seconds) });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    if (dir) await stopLocalServices(dir, { remove: true });
  }
}

/** `stockade bench http`: a flash sale over HTTP against a server of its own. */
export async function benchHttpCommand(opts: { seconds: string; connections: string; processes: string; stock: string }): Promise<void> {
  const result = await benchHttp({ seconds: Number(opts.seconds), connections: Number(opts.connections),
    processes: Number(opts.processes), stock: Number(opts.stock) });
  console.log(JSON.stringify(result, null, 2));
}
