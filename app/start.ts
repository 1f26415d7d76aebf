import cluster, { type Worker } from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import { raiseDescriptorLimit } from '../api/connections.ts';
import { startApi, startOps, type ApiServer } from '../api/server.ts';
import { createLogger, fulfilsWithin, type Logger } from '../engine/index.ts';
import { resolveServices } from '../services/resolve.ts';
import { maskPassword } from '../settings/kinds.ts';
import { checkSettings, processRoles, serviceSettings, workerSettings } from '../settings/views.ts';
import { startSweeps, startWorkers } from '../workers/run.ts';
import { wireMetrics } from './metrics-aggregate.ts';
import type { WriteThrough } from '../workers/writethrough.ts';
import { Lifecycle, watchNpmParent } from './lifecycle.ts';
import { portProblem } from './port.ts';
import { preflight } from './preflight.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import { bearerTokens, type BearerTokens } from './tokens.ts';

/**
 * `npm start`. The primary process checks everything it can before it starts
 * anything (app/preflight.ts: settings, the data directory's lock, the port),
 * starts the services (embedded unless REDIS_URL/DATABASE_URL are set),
 * migrates, runs the sweeps and the write-through workers, and serves the API
 * itself or, with STOCKADE_API_PROCESSES > 1, forks that many API processes
 * sharing the port. SIGINT/SIGTERM (app/lifecycle.ts): stop accepting, answer
 * the requests in flight, drain write-through (bounded), stop Redis and
 * PostgreSQL cleanly, exit 0. A failed start stops what it started.
 */
export async function start(): Promise<void> {
  if (cluster.isWorker) return runApiProcess();
  const checked = await preflight(process.env);
  const log = createLogger('stockade');
  raiseDescriptorLimit(log, checked.settings.connectionsMax); // before anything starts: the API processes and services inherit it
  const life = new Lifecycle(log, { forceOnSecondSignal: true });
  watchNpmParent(() => life.requestStop('npm exited'));
  try {
    await startPrimary(life, log, checked);
    life.running();
  } catch (error) {
    await life.failed(error);
  }
}

async function startPrimary(life: Lifecycle, log: Logger, checked: Awaited<ReturnType<typeof preflight>>): Promise<void> {
  const { settings, lock, port, services } = checked;
  life.add('data directory lock', () => lock?.release(), () => lock?.release());
  life.add('port', () => port.release(), () => port.release());
  life.add('services', () => services.stop(), () => services.stop({ fast: true }));
  lock?.own(services.owned);
  const urls = await services.start();
  lock?.own(services.owned);
  life.checkpoint();
  log.info({ redis: maskPassword(urls.redisUrl), database: maskPassword(urls.databaseUrl), embedded: services.embedded }, 'services ready');

  const tokens = bearerTokens(settings, services.dataDir, log);
  const runtime = await createRuntime({ ...urls, log, api: { adminToken: tokens.admin, clientToken: tokens.client } });
  life.add('runtime', () => runtime.close());
  life.checkpoint();
  const drain = workerSettings();
  const writeThrough = startWorkers(runtime.engine, urls.redisUrl, runtime.sql, log);
  life.add('write-through', () => stopWriteThrough(writeThrough, drain.shutdownDrainMs, drain.pollMs, log));
  const sweeps = await startSweeps(runtime, urls.redisUrl);
  life.add('sweeps', () => sweeps.stop());
  wireMetrics(runtime.apiDeps(), { log, writeThrough, processes: settings.processes });

  if (settings.processes === 1) {
    port.release();
    const server = await startApi(runtime.apiDeps(), port.port, settings.host, { exclusive: true })
      .catch(async () => { throw await portProblem(settings.host, port.port); });
    life.add('API', () => stopServer(server, runtime, settings.shutdownGraceMs));
  } else {
    const processes = forkApiProcesses(settings.processes, { ...urls, port: port.port, tokens }, log);
    life.add('API processes', () => processes.stop(settings.shutdownGraceMs), () => processes.kill());
    await processes.listening;
    port.release();
  }
  if (settings.opsPort !== undefined) { // registered after the API, so stopped first: probes fail once the stop begins
    const ops = await startOps(runtime.apiDeps(), settings.opsPort, settings.opsHost);
    life.add('ops listener', () => ops.close(0));
    log.info({ port: ops.port, host: settings.opsHost }, 'ops listener listening (/healthz, /readyz, /metrics)');
  }
  life.checkpoint();
  log.info({ port: port.port, processes: settings.processes }, 'API listening');
}

/** Stops accepting, answers the requests in flight (up to graceMs), then waits for the hold batcher to empty. */
async function stopServer(server: ApiServer, runtime: Runtime, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  await server.close(graceMs);
  const batched = () => Object.values(runtime.engine.queueDepths()).reduce((a, b) => a + b, 0);
  while (batched() > 0 && Date.now() < deadline) await sleep(10);
}

/**
 * Lets write-through carry the outbox to PostgreSQL until it is empty or
 * boundMs has passed (STOCKADE_SHUTDOWN_DRAIN_MS), then stops the workers
 * within what is left of it. What is left is written after the next start.
 */
async function stopWriteThrough(writeThrough: WriteThrough, boundMs: number, pollMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + boundMs;
  const backlog = () => writeThrough.backlog().catch(() => -1);
  let left = await backlog();
  while (left !== 0 && Date.now() < deadline) {
    await sleep(pollMs);
    left = await backlog();
  }
  if (left !== 0) log.warn({ left, boundMs }, 'outbox not drained within STOCKADE_SHUTDOWN_DRAIN_MS; the rest is written after the next start');
  if (!(await fulfilsWithin(writeThrough.stop(), Math.max(0, deadline - Date.now())))) {
    log.warn({ boundMs }, 'write-through jobs still running at STOCKADE_SHUTDOWN_DRAIN_MS; left to the next start');
  }
}

/** How long the primary waits before it replaces an API process that died (so one that cannot start does not spin). */
const reforkDelayMs = 1_000;

interface ApiProcesses {
  /** Fulfils once every process listens; rejects when one exits first. */
  listening: Promise<void>;
  /** SIGTERM to each (each stops as the primary does); SIGKILL to those still running after graceMs + 2 s. */
  stop(graceMs: number): Promise<void>;
  kill(): void;
}

/** Forks the API processes; they listen on the port with SO_REUSEPORT and say so by message. */
function forkApiProcesses(count: number, o: { redisUrl: string; databaseUrl: string; port: number; tokens: BearerTokens }, log: Logger): ApiProcesses {
  // The environment of a process is readable by its own OS user alone (and root).
  const env = { REDIS_URL: o.redisUrl, DATABASE_URL: o.databaseUrl, PORT: String(o.port),
    STOCKADE_ADMIN_TOKEN: o.tokens.admin, STOCKADE_CLIENT_TOKEN: o.tokens.client };
  let stopping = false;
  let started = false;
  const listening = new Promise<void>((resolve, reject) => {
    let ready = 0;
    const fork = () => {
      const worker = cluster.fork(env);
      worker.on('message', (message: unknown) => {
        if ((message as { stockade?: string }).stockade !== 'listening' || started) return;
        if (++ready === count) {
          started = true;
          resolve();
        }
      });
      worker.once('exit', (code, signal) => {
        if (stopping) return;
        if (!started) {
          reject(new Error(`API process ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it listened; its error is above`));
          return;
        }
        log.error({ pid: worker.process.pid, code, signal }, 'API process died; starting another');
        setTimeout(() => { if (!stopping) fork(); }, reforkDelayMs).unref();
      });
    };
    for (let i = 0; i < count; i++) fork();
  });
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
  return {
    listening,
    stop: async (graceMs) => {
      stopping = true;
      await Promise.all(workers().map((w) => new Promise<void>((resolve) => {
        const timer = setTimeout(() => { w.process.kill('SIGKILL'); }, graceMs + 2_000);
        w.once('exit', () => { clearTimeout(timer); resolve(); });
        w.process.kill('SIGTERM');
      })));
    },
    kill: () => {
      stopping = true;
      for (const w of workers()) w.process.kill('SIGKILL');
    },
  };
}

/** `stockade workers`: write-through and the sweeps, no HTTP (any number of these may run). */
export async function runWorkersOnly(): Promise<void> {
  checkSettings(process.env, processRoles.workers);
  const log = createLogger('stockade-workers');
  // Signals are handled before the process says it runs: a supervisor may stop it at once.
  const life = new Lifecycle(log, { forceOnSecondSignal: true });
  try {
    const services = await resolveServices();
    life.add('services', () => services.stop());
    life.checkpoint();
    const runtime = await createRuntime({ redisUrl: services.redisUrl, databaseUrl: services.databaseUrl, log, role: 'workers' });
    life.add('runtime', () => runtime.close());
    const drain = workerSettings();
    const writeThrough = startWorkers(runtime.engine, services.redisUrl, runtime.sql, log);
    life.add('write-through', () => stopWriteThrough(writeThrough, drain.shutdownDrainMs, drain.pollMs, log));
    const sweeps = await startSweeps(runtime, services.redisUrl);
    life.add('sweeps', () => sweeps.stop());
    life.checkpoint();
    log.info({ pid: process.pid, sweeps: true }, 'write-through workers running');
    life.running();
  } catch (error) {
    await life.failed(error);
  }
}

/** An API process forked by the primary: it stops on SIGTERM from it; the primary forces (SIGKILL) when needed. */
async function runApiProcess(): Promise<void> {
  const log = createLogger('stockade-api');
  const life = new Lifecycle(log, { forceOnSecondSignal: false });
  try {
    // The primary checked the settings and passes the services' URLs and the port to each API process it forks.
    const { redisUrl, databaseUrl } = serviceSettings();
    const runtime = await createRuntime({ redisUrl: redisUrl!, databaseUrl: databaseUrl!, log });
    life.add('runtime', () => runtime.close());
    wireMetrics(runtime.apiDeps(), { log });
    life.checkpoint();
    const { port, host, shutdownGraceMs } = runtime.settings;
    const server = await startApi(runtime.apiDeps(), port, host).catch(async () => { throw await portProblem(host, port); });
    life.add('API', () => stopServer(server, runtime, shutdownGraceMs));
    life.checkpoint();
    process.send?.({ stockade: 'listening' });
    log.info({ port: server.port, pid: process.pid }, 'API process listening');
    life.running();
  } catch (error) {
    await life.failed(error);
  }
}
