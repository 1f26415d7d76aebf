import { Redis } from 'ioredis';
import { Engine } from '../engine/engine.ts';
import { createLogger } from '../engine/log.ts';
import { startSweepLoop } from '../engine/sweep-loop.ts';
import { resolveServices } from '../services/resolve.ts';
import { runDemo } from './demo.ts';

/** `npm start`: services (embedded unless URLs are given), the engine and its sweeper. */
export async function startCommand(): Promise<void> {
  const log = createLogger('stockade');
  const services = await resolveServices();
  log.info({ redis: services.redisUrl, database: services.databaseUrl, embedded: services.embedded }, 'services ready');
  const redis = new Redis(services.redisUrl);
  const engine = Engine.create(redis);
  const sweeper = startSweepLoop(engine, log);
  await runDemo(engine, log);
  log.info('engine running; Ctrl-C stops it');

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await sweeper.stop();
    await redis.quit();
    await services.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}
