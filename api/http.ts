import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import type { Role } from './auth.ts';
import { contractLimits } from './config.ts';
import { problem, type Reply } from './problems.ts';

/** What a route handler sees: everything uWS gave, read before the first await. */
export interface ApiRequest<T = unknown> {
  route: string;
  params: string[];
  query: URLSearchParams;
  role: Role;
  /** The Idempotency-Key header, '' when absent (checked by the router for routes that take one). */
  idempotencyKey: string;
  requestId: string;
  /** The JSON body, for routes that take one: parsed, and accepted by the route's schema once the handler sees it. */
  body: T;
}

const statusLines = new Map<number, string>();
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (!line) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}

/** Writes a reply, corked, unless the client went away. */
export function send(res: HttpResponse, aborted: { value: boolean }, reply: Reply, requestId: string, closeConnection = false): void {
  if (aborted.value) return;
  aborted.value = true; // a response is sent once
  const body = reply.raw ? String(reply.body) : reply.body === undefined ? '' : JSON.stringify(reply.body);
  const contentType = reply.contentType ?? (reply.problem ? 'application/problem+json' : 'application/json');
  res.cork(() => {
    res.writeStatus(statusLine(reply.status));
    res.writeHeader('content-type', contentType);
    res.writeHeader('x-request-id', requestId);
    if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) res.writeHeader(name, value);
    res.end(body, closeConnection);
  });
}

/**
 * Reads a request body as it streams, refusing it (413) as soon as it passes
 * the contract's 16 KiB: counted while it arrives, not after. Resolves null when
 * refused. uWS reuses the chunk's memory after the callback, so each is copied.
 */
export function readBody(res: HttpResponse, onTooLarge: () => void): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > contractLimits.bodyBytesMax) {
        done = true;
        onTooLarge();
        resolve(null);
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        done = true;
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      }
    });
  });
}

/** Parses a JSON body: a problem reply for empty or malformed text. */
export function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false; reply: Reply } {
  if (raw.length === 0) return { ok: false, reply: problem('malformed-json', 'a JSON body is required') };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false, reply: problem('malformed-json', 'the body is not valid JSON') };
  }
}

/** uWS gives path parameters percent-encoded; null when the encoding is broken. */
export function decodeParam(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** ?limit=: the fallback when absent, a number in 1..max, or null when it is anything else. */
export function limitParam(query: URLSearchParams, fallback: number, max: number): number | null {
  const text = query.get('limit');
  if (text === null) return fallback;
  const limit = Number(text);
  return Number.isInteger(limit) && limit >= 1 && limit <= max ? limit : null;
}
