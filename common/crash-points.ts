/**
 * Crash points: the fault harness's test-only hook (issue #15, `stockade chaos`).
 * Off unless STOCKADE_CRASH_POINTS names some (refused with NODE_ENV=production);
 * nothing a client sends reaches it. A process that reaches an armed point dies
 * there by SIGKILL with the point's probability: no clean-up, no reply, as a
 * power cut between two steps would leave it.
 */
export const crashPointNames = [
  /** Checkout: the provider captured the charge; the hold is not committed yet. */
  'after-charge',
  /** Checkout: the hold is committed (the order is in the outbox); the client has no answer yet. */
  'after-commit',
  /** Write-through: the rows are committed in PostgreSQL; the outbox entries are not removed yet. */
  'after-pg-insert',
] as const;

export type CrashPoint = (typeof crashPointNames)[number];

let armed: ReadonlyMap<CrashPoint, number> = new Map();

/** Arms the points of this process (the runtime does, from its settings). */
export function armCrashPoints(points: ReadonlyMap<CrashPoint, number>): void {
  armed = points;
}

/** Dies here (SIGKILL) with the point's probability when it is armed; else nothing. */
export function crashPoint(point: CrashPoint): void {
  const probability = armed.get(point);
  if (probability !== undefined && Math.random() < probability) process.kill(process.pid, 'SIGKILL');
}
