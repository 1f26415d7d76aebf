import { pino, type Logger } from 'pino';

/** JSON logs (pretty when NODE_ENV=development); payment tokens never reach them (see `redact`). */
export function createLogger(name: string, level = process.env.STOCKADE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    ...(process.env.NODE_ENV === 'development' ? { transport: { target: 'pino-pretty' } } : {}),
    redact: { paths: ['token', '*.token', 'payment.token', '*.payment.token', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}

export type { Logger };
