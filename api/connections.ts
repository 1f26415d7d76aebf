import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../engine/index.ts';

/** Open file descriptors this process may have: soft (in force) and hard (the ceiling it may raise the soft one to). */
export interface DescriptorLimit {
  soft: number;
  hard: number;
}

/** Without /proc (not Linux): the cap assumes this soft limit (macOS's shell default is 256; launchd's services get more). */
const assumedDescriptors = 1_024;

/** RLIMIT_NOFILE of this process, from /proc/self/limits (Node has no getrlimit); null where there is none. */
export function descriptorLimit(): DescriptorLimit | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line?.slice('Max open files'.length).trim().split(/\s+/) ?? []).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return soft !== undefined && hard !== undefined && soft > 0 && hard > 0 ? { soft, hard } : null;
  } catch {
    return null;
  }
}

/**
 * Raises this process's soft descriptor limit to its hard one, so the
 * processes it starts afterwards (API processes, the embedded services)
 * inherit it, and logs the figures and the connection cap. Node itself raises
 * the soft limit as it starts (src/node.cc); where that left it below the hard
 * one, `prlimit` from util-linux does it (Node has no setrlimit). Where that
 * fails (no prlimit, not permitted), a warning: the connection cap is derived
 * from the limit in force either way.
 */
export function raiseDescriptorLimit(log: Logger, connectionsMax?: number): DescriptorLimit | null {
  const before = descriptorLimit();
  let after = before;
  if (before && before.soft < before.hard && Number.isFinite(before.hard)) {
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      after = descriptorLimit() ?? before;
    } catch (error) {
      const why = String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim().split('\n')[0];
      log.warn({ soft: before.soft, hard: before.hard, why }, 'could not raise the soft descriptor limit (prlimit); the connection cap follows the soft limit');
    }
  }
  const cap = connectionsMax ?? defaultConnectionsMax(after);
  log.info({ descriptors: { from: before?.soft ?? null, to: after?.soft ?? null, hard: before?.hard ?? null }, connectionsMax: cap },
    'descriptor limit and connection cap (per API process)');
  if (after && cap > after.soft) log.warn({ connectionsMax: cap, descriptors: after.soft }, 'STOCKADE_CONNECTIONS_MAX is above the descriptor limit: past it, accepts fail instead of closing');
  return after;
}

/**
 * The default STOCKADE_CONNECTIONS_MAX: the soft descriptor limit less a
 * headroom of a tenth (at least 256, at most half) for what else the process
 * opens: its Redis and PostgreSQL connections (tens), the payment provider's
 * records (a few per confirm in flight), logs, Node's own. At 20,000
 * descriptors, 18,000 connections; at 1,024, 768.
 */
export function defaultConnectionsMax(limit = descriptorLimit()): number {
  const soft = Math.min(limit?.soft ?? assumedDescriptors, 10_000_000);
  const headroom = Math.min(Math.max(256, Math.ceil(soft / 10)), Math.floor(soft / 2));
  return Math.max(1, soft - headroom);
}

/** One listener's connections: open now, and refused (closed at once) since it started. */
export class ConnectionCount {
  open = 0;
  refused = 0;
  constructor(readonly listener: 'api' | 'ops', readonly max: number) {}
}

/**
 * Caps the open connections of a uWS app: past `max`, a new connection is
 * closed as it opens (uWS's filter runs on accept, before any byte is read),
 * so it costs no parsing, no routing, no Redis. uWS calls the filter with +1
 * on open and -1 on close (also for the connections it closes here).
 */
export function capConnections(app: TemplatedApp, count: ConnectionCount): void {
  app.filter((res, change) => {
    count.open += Number(change);
    if (Number(change) > 0 && count.open > count.max) {
      count.refused += 1;
      res.close();
    }
  });
}
