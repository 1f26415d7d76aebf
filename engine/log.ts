import { pino, type Logger } from 'pino';
import { logSettings } from '../settings/views.ts';

/** JSON logs (pretty when NODE_ENV=development); payment tokens never reach them (see `redact`). */
export function createLogger(name: string, level?: string): Logger {
  const settings = logSettings();
  return pino({
    name,
    level: level ?? settings.level,
    ...(settings.pretty ? { transport: { target: 'pino-pretty' } } : {}),
    redact: { paths: ['token', '*.token', 'payment.token', '*.payment.token', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}

export type { Logger };
