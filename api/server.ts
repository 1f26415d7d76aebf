import { setTimeout as sleep } from 'node:timers/promises';
import type { us_listen_socket } from 'uWebSockets.js';
import { StockadeError } from '../engine/index.ts';
import { Auth } from './auth.ts';
import { capConnections, ConnectionCount, defaultConnectionsMax } from './connections.ts';
import type { ApiDeps } from './deps.ts';
import { openApiDocument } from './openapi.ts';
import { Inflight, registerRoutes, type Route } from './router.ts';
import { benchRoutes } from './routes/bench.ts';
import { opsListenerRoutes, opsRoutes } from './routes/ops.ts';
import { orderRoutes } from './routes/orders.ts';
import { problemRoutes } from './routes/problems.ts';
import { productRoutes } from './routes/products.ts';
import { reservationRoutes } from './routes/reservations.ts';
import { loadUws } from './uws.ts';

export interface ApiServer {
  port: number;
  /** Open connections, those refused at the cap, and the cap. */
  connections: ConnectionCount;
  /** Stops accepting, lets requests in flight finish (up to graceMs), then returns. */
  close(graceMs: number): Promise<void>;
}

/** The ops listener's cap: an orchestrator's probes and a metrics scraper need a few connections. Not a setting. */
export const opsConnectionsMax = 64;

/**
 * Every route of the API; /openapi.json is printed from this same table (once, when first asked).
 * The benchmark's routes (STOCKADE_BENCH_ROUTES) are served after it and left out of it: not the contract.
 */
export function apiRoutes(deps: ApiDeps): Route[] {
  const routes: Route[] = [];
  let document: unknown;
  routes.push(...productRoutes(deps), ...reservationRoutes(deps), ...orderRoutes(deps),
    ...opsRoutes(deps, () => (document ??= openApiDocument(routes))), ...problemRoutes());
  return deps.settings.benchRoutes ? [...routes, ...benchRoutes(deps)] : routes;
}

/**
 * The v1 HTTP API on uWebSockets.js: thin routes over the engine. It listens with SO_REUSEPORT
 * (API processes share the port) unless `exclusive`. Connections past
 * STOCKADE_CONNECTIONS_MAX (default: from the descriptor limit) are closed as they open.
 */
export function startApi(deps: ApiDeps, port: number, host = '127.0.0.1', o: { exclusive?: boolean } = {}): Promise<ApiServer> {
  void deps.readiness.current(); // the first check starts now, so the first probe finds a state
  const connections = new ConnectionCount('api', deps.settings.connectionsMax ?? defaultConnectionsMax());
  return listen(deps, apiRoutes(deps), connections, port, host, o.exclusive ?? false);
}

/**
 * The ops listener (STOCKADE_OPS_PORT): /healthz, /readyz with its detail and
 * /metrics, no token, a cap of its own (opsConnectionsMax) that the API's
 * connections do not use up: a flooded API port does not blind the
 * orchestrator. One per stack (the primary runs it).
 */
export function startOps(deps: ApiDeps, port: number, host: string): Promise<ApiServer> {
  void deps.readiness.current();
  return listen(deps, opsListenerRoutes(deps), new ConnectionCount('ops', opsConnectionsMax), port, host, true);
}

function listen(deps: ApiDeps, routes: Route[], connections: ConnectionCount, port: number, host: string, exclusive: boolean): Promise<ApiServer> {
  const uws = loadUws();
  const app = uws.App();
  capConnections(app, connections);
  deps.metrics.countConnections(connections);
  const inflight = new Inflight();
  const { adminToken, clientToken } = deps.settings;
  if (!adminToken || !clientToken) throw new StockadeError('ASSERTION', 'the API needs both bearer tokens (app/tokens.ts provides generated ones)');
  registerRoutes(app, routes, { auth: new Auth(adminToken, clientToken), metrics: deps.metrics, limiter: deps.limiter, log: deps.log }, inflight);
  return new Promise((resolve, reject) => {
    // uWS's typings lack listen(host, port, options, cb); options 1 is LIBUS_LISTEN_EXCLUSIVE_PORT.
    (app.listen as unknown as (...a: unknown[]) => void).call(app, host, port, exclusive ? 1 : 0, (socket: us_listen_socket | false) => {
      if (!socket) return reject(new StockadeError('SERVICE_FAILED', `cannot listen on ${host}:${port}`));
      resolve({
        port: uws.us_socket_local_port(socket),
        connections,
        close: async (graceMs) => {
          inflight.stopping = true; // kept-alive connections get 503 + Connection: close from now on
          uws.us_listen_socket_close(socket);
          const deadline = Date.now() + graceMs;
          while (inflight.count > 0 && Date.now() < deadline) await sleep(10);
        },
      });
    });
  });
}
