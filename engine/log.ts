import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { maskPasswords } from '../settings/kinds.ts';
import { logSettings } from '../settings/views.ts';

/**
 * JSON logs (pretty when NODE_ENV=development) that carry no secret (issue #11): payment
 * tokens and Authorization headers are redacted, a URL's password is masked wherever a
 * logged string holds one, and an error keeps its Redis command's name but not its
 * arguments (ioredis puts every argument of a failed call on the error: a batch's
 * Idempotency-Keys, user ids and hold ids). Bearer tokens are never passed to a log call.
 */
export function createLogger(name: string, level?: string, destination?: DestinationStream): Logger {
  const settings = logSettings();
  const options: LoggerOptions = {
    name,
    level: level ?? settings.level,
    ...(settings.pretty ? { transport: { target: 'pino-pretty' } } : {}),
    redact: { paths: ['token', '*.token', 'payment.token', '*.payment.token', 'authorization', '*.authorization'], censor: '[redacted]' },
    serializers: { err: serializeError },
    formatters: { log: (object) => scrub(object, 0) as Record<string, unknown> },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** How deep scrub looks into a logged object; what is deeper is logged as a placeholder (log calls pass small objects). */
const scrubDepthMax = 6;

/** pino's error serializer, then scrubbed: arguments of Redis commands dropped, URL passwords masked. */
export function serializeError(error: unknown): unknown {
  return scrub(stdSerializers.err(error as Error), 0);
}

/** A copy of value without Redis command arguments and with URL passwords masked. Errors are left to serializeError. */
function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskPasswords(value);
  if (value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (depth >= scrubDepthMax) return '[deep]';
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === 'command' && isCommand(v) ? { name: v.name } : scrub(v, depth + 1);
  }
  return out;
}

function isCommand(value: unknown): value is { name: unknown; args: unknown } {
  return typeof value === 'object' && value !== null && 'args' in value;
}

export type { Logger };
