import cluster from 'node:cluster';
import { startApi, type ApiServer } from '../api/server.ts';
import { createLogger, type Logger, startSweepLoop } from '../engine/index.ts';
import { resolveServices, type ServiceUrls } from '../services/resolve.ts';
import { checkSettings, devTokens, processRoles, serviceSettings } from '../settings/views.ts';
import { startWorkers } from '../workers/run.ts';
import { wireMetrics } from './metrics-aggregate.ts';
import { createRuntime, type Runtime } from './runtime.ts';

/**
 * `npm start`. The primary process resolves the services (embedded unless
 * REDIS_URL/DATABASE_URL are set), migrates, runs the sweeper and the
 * write-through workers, and serves the
 * API itself or, with STOCKADE_API_PROCESSES > 1, forks that many API processes
 * sharing the port (uWS listens with SO_REUSEPORT). SIGINT/SIGTERM: stop
 * accepting, finish requests in flight, stop what was started.
 */
export async function start(): Promise<void> {
  if (cluster.isWorker) return runApiProcess();
  checkSettings(process.env, processRoles.start);
  const log = createLogger('stockade');
  const services = await resolveServices();
  log.info({ redis: services.redisUrl, database: services.databaseUrl, embedded: services.embedded }, 'services ready');
  let runtime: Runtime;
  try {
    runtime = await createRuntime({ redisUrl: services.redisUrl, databaseUrl: services.databaseUrl, log });
  } catch (error) {
    await services.stop();
    throw error;
  }
  const { settings } = runtime;
  if (settings.adminToken === devTokens.admin || settings.clientToken === devTokens.client) {
    log.warn({ adminToken: settings.adminToken, clientToken: settings.clientToken }, 'using dev bearer tokens (set STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN)');
  }
  const sweeper = startSweepLoop(runtime.engine, log, runtime.recovery);
  const writeThrough = startWorkers(runtime.engine, services.redisUrl, runtime.sql, log);
  wireMetrics(runtime.apiDeps(), { log, writeThrough, processes: settings.processes });
  let server: ApiServer | null = null;
  onShutdown(log, async () => {
    await Promise.all([server?.close(settings.shutdownGraceMs), stopApiProcesses(settings.shutdownGraceMs)]);
    await Promise.all([sweeper.stop(), writeThrough.stop()]);
    await runtime.close();
    await services.stop();
  });
  if (settings.processes === 1) {
    server = await startApi(runtime.apiDeps(), settings.port, settings.host);
    log.info({ port: server.port }, 'API listening');
  } else {
    forkApiProcesses(settings.processes, services, log);
  }
}

function forkApiProcesses(count: number, services: ServiceUrls, log: Logger): void {
  const env = { REDIS_URL: services.redisUrl, DATABASE_URL: services.databaseUrl };
  for (let i = 0; i < count; i++) cluster.fork(env);
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'API process died; starting another');
    cluster.fork(env);
  });
}

let stopping = false;

async function stopApiProcesses(graceMs: number): Promise<void> {
  const workers = Object.values(cluster.workers ?? {});
  await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
    if (!w || w.isDead()) return resolve();
    const timer = setTimeout(() => { w.kill('SIGKILL'); resolve(); }, graceMs + 2_000);
    w.once('exit', () => { clearTimeout(timer); resolve(); });
    w.process.kill('SIGTERM');
  })));
}

/** `stockade workers`: write-through alone (any number of these may run). */
export async function runWorkersOnly(): Promise<void> {
  checkSettings(process.env, processRoles.workers);
  const log = createLogger('stockade-workers');
  const services = await resolveServices();
  const runtime = await createRuntime({ redisUrl: services.redisUrl, databaseUrl: services.databaseUrl, log, role: 'workers' });
  const writeThrough = startWorkers(runtime.engine, services.redisUrl, runtime.sql, log);
  // Signals are handled before the process says it runs: a supervisor may stop it at once.
  onShutdown(log, async () => {
    await writeThrough.stop();
    await runtime.close();
    await services.stop();
  });
  log.info({ pid: process.pid }, 'write-through workers running');
}

async function runApiProcess(): Promise<void> {
  const log = createLogger('stockade-api');
  // The primary checked the settings and passes the services' URLs to each API process it forks.
  const { redisUrl, databaseUrl } = serviceSettings();
  const runtime = await createRuntime({ redisUrl: redisUrl!, databaseUrl: databaseUrl!, log });
  wireMetrics(runtime.apiDeps(), { log });
  const server = await startApi(runtime.apiDeps(), runtime.settings.port, runtime.settings.host);
  onShutdown(log, async () => {
    await server.close(runtime.settings.shutdownGraceMs);
    await runtime.close();
  });
  log.info({ port: server.port, pid: process.pid }, 'API process listening');
}

function onShutdown(log: Logger, stop: () => Promise<void>): void {
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    stop().then(() => process.exit(0), (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}
