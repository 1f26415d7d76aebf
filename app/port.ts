import { createServer } from 'node:net';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { send } from '../api/http.ts';
import { problem } from '../api/problems.ts';
import { loadUws } from '../api/uws.ts';
import { StockadeError } from '../common/errors.ts';

/** uWS's listen options (its typings lack the overload with a host). */
export const listenOptions = { shared: 0, exclusive: 1 } as const;

type Listen = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;

/** Listens (synchronously: uWS calls back before it returns); false when it could not. */
export function listenUws(app: TemplatedApp, host: string, port: number, options: number): us_listen_socket | false {
  let result: us_listen_socket | false = false;
  (app.listen as unknown as Listen).call(app, host, port, options, (socket) => { result = socket; });
  return result;
}

/** The API's port, held from before anything starts until the API listens on it. */
export interface PortHold {
  /** The port (PORT, or the one picked when PORT is 0). */
  port: number;
  /** Closes the placeholder listener (idempotent). */
  release(): void;
}

/**
 * Takes the API's port before the services start: a port in use stops the start
 * before anything else has started, with a message naming PORT. It is taken
 * exclusively (no SO_REUSEPORT), so any other listener refuses it, also another
 * Stockade. With `shared` (STOCKADE_API_PROCESSES > 1), the exclusive listener is
 * swapped at once for one with SO_REUSEPORT that the API processes join; while it
 * is held, no other Stockade can take the port, because each first listens
 * exclusively. Until released, the placeholder answers every request 503, retry.
 */
export async function holdPort(host: string, port: number, shared: boolean): Promise<PortHold> {
  const uws = loadUws();
  const app = uws.App();
  app.any('/*', (res) => {
    send(res, { value: false }, problem('unavailable', 'Stockade is starting; retry', {}, { 'retry-after': '1' }), 'starting', true);
  });
  let socket = listenUws(app, host, port, listenOptions.exclusive);
  if (!socket) throw await portProblem(host, port);
  const actual = uws.us_socket_local_port(socket);
  if (shared) {
    uws.us_listen_socket_close(socket);
    socket = listenUws(app, host, actual, listenOptions.shared);
    if (!socket) throw await portProblem(host, actual);
  }
  let held: us_listen_socket | null = socket;
  return {
    port: actual,
    release: () => {
      if (held) uws.us_listen_socket_close(held);
      held = null;
    },
  };
}

/** Why host:port cannot be listened on, from the operating system's own answer, naming the setting. */
export async function portProblem(host: string, port: number): Promise<StockadeError> {
  const code = await new Promise<string | null>((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'an error'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
  switch (code) {
    case 'EADDRINUSE':
      return new StockadeError('IN_USE', `PORT ${port} is in use on ${host} (another process listens there, perhaps another Stockade): `
        + 'stop it, or set PORT to a free port');
    case 'EACCES':
      return new StockadeError('INVALID_SETTING', `PORT ${port} on ${host} is not allowed for this user (ports below 1024 need privileges): set PORT to another port`);
    case 'EADDRNOTAVAIL':
      return new StockadeError('INVALID_SETTING', `STOCKADE_HOST ${host} is not an address of this machine (PORT ${port})`);
    default:
      return new StockadeError('IN_USE', `cannot listen on ${host}:${port} (PORT, STOCKADE_HOST)${code ? `: ${code}` : ''}`);
  }
}
