import type { Static, TSchema } from '@sinclair/typebox';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { isRedisUnavailable, randomText, StockadeError, type Logger } from '../engine/index.ts';
import type { Auth, Credentials } from './auth.ts';
import { contractLimits } from './config.ts';
import { decodeParam, parseJson, readBody, send, type ApiRequest } from './http.ts';
import { idempotencyKeyProblem } from './idempotency.ts';
import type { ApiMetrics } from './metrics.ts';
import { invalidRequest, problem, type ProblemSlug, type Reply } from './problems.ts';
import type { RateLimiter } from './ratelimit.ts';
import type { Validator } from './schemas.ts';

/** Response headers a route declares (the document lists them; the router adds those of problems itself). */
export type ResponseHeader = 'Location' | 'Retry-After';

/** A response a handler gives other than a problem. */
export interface RouteResponse {
  description: string;
  /** The JSON body's schema (a schema of schemas.ts); absent: the body is not JSON (see contentType). */
  schema?: TSchema;
  /** The content type when the body is not JSON (Prometheus text). */
  contentType?: string;
  headers?: ResponseHeader[];
}

/**
 * One operation: how it is served and, from the same table, how /openapi.json
 * describes it (api/openapi.ts), so the two cannot drift.
 */
export interface Route<T = unknown> {
  method: 'get' | 'post';
  /** uWS pattern, e.g. /v1/reservations/:id/confirm */
  pattern: string;
  operationId: string;
  summary: string;
  /** The document's group of operations. */
  tag: 'products' | 'reservations' | 'orders' | 'operations' | 'problems';
  /** Who may call: anyone, either token, or the admin token only. */
  access: 'public' | 'token' | 'admin';
  /** The JSON body it takes: validated here (422 invalid-request listing every field at fault) before the handler runs. */
  body?: Validator<TSchema>;
  /** The body may be left out (an empty body is none: the handler sees undefined). */
  bodyOptional?: boolean;
  /** The Idempotency-Key header: checked here (400 when required and absent, or too long). */
  idempotencyKey?: 'required' | 'optional';
  /** Schemas of path parameters (by name) and query parameters, for the document (the handler checks the query). */
  params?: Record<string, TSchema>;
  query?: Record<string, TSchema>;
  /** Every response of the handler that is not a problem, by status. */
  responses: Record<number, RouteResponse>;
  /** The problems the handler itself answers (problemsOf adds the router's). */
  problems?: ProblemSlug[];
  handler: (req: ApiRequest<T>) => Promise<Reply>;
}

/** A route whose handler sees the body its validator accepted, typed. */
export function withBody<S extends TSchema>(body: Validator<S>, route: Omit<Route<Static<S>>, 'body' | 'bodyOptional'>): Route {
  return { ...route, body } as Route;
}

/** A route whose body may be left out: its handler sees the body its validator accepted, or undefined for none. */
export function withOptionalBody<S extends TSchema>(body: Validator<S>, route: Omit<Route<Static<S> | undefined>, 'body' | 'bodyOptional'>): Route {
  return { ...route, body, bodyOptional: true } as Route;
}

/** Every problem a route may answer: its handler's and what the router checks for it, in the order of status. */
export function problemsOf(route: Route): ProblemSlug[] {
  const slugs = new Set<ProblemSlug>(route.problems);
  if (route.access !== 'public') slugs.add('unauthorized').add('rate-limited').add('overloaded');
  if (route.access === 'admin') slugs.add('forbidden');
  if (route.pattern.includes('/:')) slugs.add('bad-request'); // a path parameter that is not valid percent-encoding
  if (route.idempotencyKey) slugs.add('bad-request'); // a key over 255 characters
  if (route.idempotencyKey === 'required') slugs.add('idempotency-key-required');
  if (route.body) slugs.add('unsupported-media-type').add('body-too-large').add('malformed-json').add('invalid-request');
  slugs.add('internal').add('unavailable').add('fenced'); // any exception; a dependency away, the server shutting down; fenced
  return [...slugs];
}

export interface RouterDeps {
  auth: Auth;
  metrics: ApiMetrics;
  limiter: RateLimiter;
  log: Logger;
}

/**
 * Requests whose work is not finished (a handler keeps running after its client
 * went away: a confirm mid-payment must still finish), so a graceful shutdown
 * can wait for them; and whether the server is stopping.
 */
export class Inflight {
  count = 0;
  stopping = false;
}

/** Request ids are random (no counter: a sequence would tell anyone the request volume). */
const nextRequestId = () => randomText();

/**
 * Registers routes on a uWS app. For each request, synchronously (uWS's request
 * object dies at the first await): attach onAborted, read headers and params,
 * check the token, check Content-Length; then read the body as it streams,
 * parse it, run the handler and send its reply corked. Any exception becomes
 * a problem reply (500s with a generic body, logged with the request id).
 */
export function registerRoutes(app: TemplatedApp, routes: Route[], deps: RouterDeps, inflight: Inflight): void {
  const byPattern = new Map<string, string[]>();
  for (const route of routes) {
    app[route.method](route.pattern, (res, req) => serve(res, req, route, deps, inflight));
    byPattern.set(route.pattern, [...(byPattern.get(route.pattern) ?? []), route.method.toUpperCase()]);
  }
  for (const [pattern, methods] of byPattern) {
    app.any(pattern, (res) => {
      res.onAborted(() => {});
      send(res, { value: false }, problem('method-not-allowed', `use ${methods.join(' or ')}`, {}, { allow: methods.join(', ') }), nextRequestId());
    });
  }
  app.any('/*', (res, req) => {
    res.onAborted(() => {});
    send(res, { value: false }, problem('not-found', `no route for ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}`), nextRequestId());
  });
}

function serve(res: HttpResponse, req: HttpRequest, route: Route, deps: RouterDeps, inflight: Inflight): void {
  const started = performance.now();
  const aborted = { value: false };
  const requestId = nextRequestId();
  if (inflight.stopping) {
    res.onAborted(() => {});
    send(res, aborted, problem('unavailable', 'the server is shutting down; retry', {}, { 'retry-after': '1' }), requestId, true);
    return;
  }
  // A request counts until its work is done: its handler settled, or it ended
  // before one ran (refused, aborted while its body streamed in).
  inflight.count += 1;
  let handlerRunning = false;
  let counted = true;
  const done = () => {
    if (counted) {
      counted = false;
      inflight.count -= 1;
    }
  };
  let replied = false;
  const finish = (reply: Reply | null, closeConnection = false) => {
    if (replied) return;
    replied = true;
    if (!handlerRunning) done();
    if (reply) {
      send(res, aborted, reply, requestId, closeConnection || inflight.stopping);
      deps.metrics.observe(route.pattern, reply, (performance.now() - started) / 1000);
    }
  };
  res.onAborted(() => {
    aborted.value = true;
    finish(null);
  });

  const credentials = deps.auth.credentialsOf(req.getHeader('authorization'));
  const denied = accessProblem(route.access, credentials);
  if (denied) return finish(denied);
  const params: string[] = [];
  for (let i = 0; i < paramCount(route.pattern); i++) {
    const value = decodeParam(req.getParameter(i) ?? '');
    if (value === null) return finish(problem('bad-request', 'a path parameter is not valid percent-encoding'));
    params.push(value);
  }
  const idempotencyKey = req.getHeader('idempotency-key');
  const keyRefused = route.idempotencyKey ? idempotencyKeyProblem(idempotencyKey, route.idempotencyKey === 'required') : null;
  if (keyRefused) return finish(keyRefused);
  const partial: Omit<ApiRequest, 'body'> = {
    route: route.pattern,
    params,
    query: new URLSearchParams(req.getQuery() ?? ''),
    role: credentials === 'admin' ? 'admin' : 'client',
    idempotencyKey,
    requestId,
  };
  const run = async (body: unknown) => {
    handlerRunning = true;
    try {
      const limited = route.access === 'public' ? null : await deps.limiter.token(partial.role);
      finish(limited ?? (await handle(route, { ...partial, body })));
    } catch (error) {
      finish(errorReply(error, requestId, deps.log));
    } finally {
      done();
    }
  };
  if (!route.body) {
    // Bodies of routes that take none are drained and ignored.
    res.onData(() => {});
    void run(undefined);
    return;
  }
  const contentType = req.getHeader('content-type');
  const declared = Number(req.getHeader('content-length') || 0);
  const bodyLeftOut = route.bodyOptional && declared === 0;
  if (contentType && !bodyLeftOut && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    return finish(problem('unsupported-media-type', 'send application/json'), true);
  }
  if (declared > contractLimits.bodyBytesMax) {
    return finish(problem('body-too-large', `the body may be at most ${contractLimits.bodyBytesMax} bytes`), true);
  }
  void readBody(res, () => finish(problem('body-too-large', `the body may be at most ${contractLimits.bodyBytesMax} bytes`), true))
    .then((raw) => {
      if (raw === null || replied) return;
      if (raw.length === 0 && route.bodyOptional) return run(undefined);
      const parsed = parseJson(raw);
      if (!parsed.ok) return finish(parsed.reply);
      return run(parsed.value);
    });
}

const paramCounts = new Map<string, number>();
function paramCount(pattern: string): number {
  let n = paramCounts.get(pattern);
  if (n === undefined) {
    n = (pattern.match(/\/:/g) ?? []).length;
    paramCounts.set(pattern, n);
  }
  return n;
}

/** The body checked against the route's schema (every field at fault at once), then the handler. */
function handle(route: Route, req: ApiRequest): Promise<Reply> {
  if (!route.body || (route.bodyOptional && req.body === undefined)) return route.handler(req);
  const v = route.body.check(req.body);
  return v.ok ? route.handler({ ...req, body: v.value }) : Promise.resolve(invalidRequest(v.detail, v.errors));
}

/** RFC 6750 §3: no token, a token that is not valid, a valid one without the scope: each says so in WWW-Authenticate, and no more. */
function accessProblem(access: Route['access'], credentials: Credentials): Reply | null {
  if (access === 'public') return null;
  if (credentials === 'none') return problem('unauthorized', 'send Authorization: Bearer <token>', {}, { 'www-authenticate': 'Bearer' });
  if (credentials === 'invalid') {
    return problem('unauthorized', 'the bearer token is not valid', {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  if (access === 'admin' && credentials !== 'admin') {
    return problem('forbidden', 'this route needs the admin token', {}, { 'www-authenticate': 'Bearer error="insufficient_scope"' });
  }
  return null;
}

/** Retry-After of a fenced answer: a fence lasts until an operator's repair or rebuild, longer than a blip. */
const fencedRetryAfterS = 5;

/** Infrastructure failures as problems: never a stack trace, Redis or SQL text. */
export function errorReply(error: unknown, requestId: string, log: Logger): Reply {
  const code = (error as StockadeError)?.code;
  if (code === 'OVERLOADED' || isOutOfMemory(error)) {
    return problem('overloaded', 'Stockade is at capacity (requests in flight, write-through backlog or Redis memory); retry shortly', {},
      { 'retry-after': '1' });
  }
  if (code === 'FENCED') {
    log.warn({ err: error, requestId }, 'fenced');
    return problem('fenced', 'Redis may be behind PostgreSQL for this data; nothing is granted until they agree', { request_id: requestId },
      { 'retry-after': String(fencedRetryAfterS) });
  }
  if (code === 'REDIS_UNAVAILABLE' || code === 'SERVICE_FAILED' || isConnectionError(error)) {
    log.warn({ err: error, requestId }, 'dependency unavailable');
    return problem('unavailable', 'a dependency is unavailable; retry shortly', { request_id: requestId }, { 'retry-after': '1' });
  }
  log.error({ err: error, requestId }, 'request failed');
  return problem('internal', 'an internal error occurred', { request_id: requestId });
}

/** Redis past its maxmemory refused a write (what the memory watermark keeps new traffic from reaching). */
function isOutOfMemory(error: unknown): boolean {
  return /^OOM\b/.test((error as { message?: string })?.message ?? '');
}

/** Redis or PostgreSQL away, busy, loading, read-only, failing over or timing out: retry later, not a bug. */
function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string };
  return isRedisUnavailable(error)
    || ['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', '57P01', '57P03', '53300', '57014'].includes(e?.code ?? '');
}
