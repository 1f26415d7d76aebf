import { pino, type Logger } from 'pino';

/** JSON logs; payment tokens never reach them (see `redact`). */
export function createLogger(name: string, level = process.env.STOCKADE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['token', '*.token', 'payment.token', '*.payment.token', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}

export type { Logger };
