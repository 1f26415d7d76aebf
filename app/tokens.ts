import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../engine/index.ts';
import { dataDirMode, privateDir, secretFile } from '../services/private-files.ts';
import type { ApiSettings } from '../settings/views.ts';

export interface BearerTokens {
  admin: string;
  client: string;
}

/** Where the generated tokens of a data directory live (0600 each). */
export function tokenFiles(dataDir: string): { admin: string; client: string } {
  return { admin: join(dataDir, 'admin.token'), client: join(dataDir, 'client.token') };
}

/**
 * The bearer tokens an API serves with: STOCKADE_ADMIN_TOKEN / STOCKADE_CLIENT_TOKEN when
 * set, else the data directory's own, random (256 bits each) and made at its first start, as
 * Jupyter's development server does. settings/views.ts allows unset tokens only outside
 * production on a loopback address.
 *
 * The values never go to the log: when this start made them and stderr is a terminal they
 * are shown there once, for the person who ran it; otherwise the log names the files.
 */
export function bearerTokens(settings: Pick<ApiSettings, 'adminToken' | 'clientToken'>, dataDir: string, log: Logger,
  show: (text: string) => void = showOnTerminal): BearerTokens {
  if (settings.adminToken && settings.clientToken) return { admin: settings.adminToken, client: settings.clientToken };
  if (!existsSync(dataDir)) privateDir(dataDir, dataDirMode()); // 0711 as root: the embedded services' OS users pass through
  const files = tokenFiles(dataDir);
  const admin = settings.adminToken ? { value: settings.adminToken, created: false } : secretFile(files.admin);
  const client = settings.clientToken ? { value: settings.clientToken, created: false } : secretFile(files.client);
  const generated = [!settings.adminToken && files.admin, !settings.clientToken && files.client].filter((f): f is string => !!f);
  log.info({ files: generated, made: admin.created || client.created }, 'bearer tokens: generated ones, read from their files (set STOCKADE_ADMIN_TOKEN and STOCKADE_CLIENT_TOKEN to choose them)');
  if (admin.created || client.created) {
    show(`\nStockade made bearer tokens for this data directory (shown once; read them again with: cat ${generated.join(' ')}):\n`
      + (settings.adminToken ? '' : `  admin:  ${admin.value}\n`) + (settings.clientToken ? '' : `  client: ${client.value}\n`) + '\n');
  }
  return { admin: admin.value, client: client.value };
}

/** Text for the person at the terminal; nothing when stderr goes elsewhere (a log collector keeps it). */
function showOnTerminal(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(text);
}
