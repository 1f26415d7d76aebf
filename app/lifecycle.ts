import { readFileSync } from 'node:fs';
import type { Logger } from '../engine/index.ts';

/**
 * A repeated signal this soon after the first is the same stop: a terminal's
 * Ctrl-C reaches the whole process group (npm and Stockade), and npm forwards
 * its copy to Stockade again; systemd signals every process of the unit, and
 * npm forwards too. Later, a second signal forces the stop.
 */
export const sameSignalMs = 1_000;
/** How often a process started by npm checks that npm is still there. */
const parentCheckMs = 1_000;

interface Step {
  name: string;
  /** The clean stop. */
  stop: () => Promise<void>;
  /** The forced stop (a second signal): only what must not outlive the process (child processes, services). */
  kill?: () => Promise<void>;
}

/** Thrown by `checkpoint` when a signal came while the process was starting: the start ends, and what started is stopped. */
export class StartInterrupted extends Error {}

/**
 * What a process started, stopped in reverse order on SIGINT or SIGTERM, on a
 * failed start, or (started by npm) when npm went away. A signal during the start
 * ends the start at its next step. A second signal (not within sameSignalMs)
 * stops at once: child processes and the embedded services are stopped fast,
 * the rest ends with the process (exit code 1). `forceOnSecondSignal` false: a
 * process whose parent forces its stop (an API process: its primary SIGKILLs it).
 */
export class Lifecycle {
  private readonly steps: Step[] = [];
  private state: 'starting' | 'running' | 'stopping' | 'forcing' = 'starting';
  private signalAt = 0;
  private stopRequested: string | null = null;

  constructor(private readonly log: Logger, private readonly o: { forceOnSecondSignal: boolean }) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => this.requestStop(signal));
  }

  /** Registers what to stop for something just started (stopped in reverse order of registration). */
  add(name: string, stop: () => Promise<void> | void, kill?: () => Promise<void> | void): void {
    this.steps.push({ name, stop: async () => stop(), kill: kill && (async () => kill()) });
  }

  /** Between start steps: when a signal came meanwhile, throws StartInterrupted (register what started first). */
  checkpoint(): void {
    if (this.stopRequested !== null) throw new StartInterrupted(this.stopRequested);
  }

  /** The start is done: from now on a signal stops at once (and one that came during the last step does now). */
  running(): void {
    if (this.state !== 'starting') return;
    this.state = 'running';
    if (this.stopRequested !== null) void this.stop(this.stopRequested);
  }

  /**
   * A start that failed (or was interrupted by a signal): stops what it started, then
   * rethrows the error, or exits 0 for a signal.
   */
  async failed(error: unknown): Promise<never> {
    if (error instanceof StartInterrupted) {
      await this.stop(error.message);
      return new Promise<never>(() => {}); // stop() exits
    }
    this.state = 'stopping';
    if (this.steps.length > 0) this.log.info({ err: error }, 'start failed; stopping what it started');
    await this.runSteps();
    throw error;
  }

  /** A signal, or another reason to stop (npm went away): the first stops, a later one forces. */
  requestStop(signal: string): void {
    const now = Date.now();
    if (this.state === 'starting') {
      if (this.stopRequested === null) {
        this.stopRequested = signal;
        this.signalAt = now;
        this.log.info({ signal }, 'stopping once the step under way has finished');
        return;
      }
    }
    if (this.state === 'running') {
      void this.stop(signal);
      return;
    }
    if (this.state === 'forcing' || !this.o.forceOnSecondSignal || now - this.signalAt < sameSignalMs) return;
    void this.force(signal);
  }

  private async stop(signal: string): Promise<void> {
    this.state = 'stopping';
    this.signalAt = Date.now();
    const startedAt = performance.now();
    this.log.info({ signal }, 'stopping');
    if (this.o.forceOnSecondSignal) {
      setTimeout(() => this.log.info('stopping; a second SIGINT or SIGTERM now stops at once'), sameSignalMs).unref();
    }
    const ok = await this.runSteps();
    if (this.forcing) return; // force() exits
    this.log.info({ ms: Math.round(performance.now() - startedAt) }, ok ? 'stopped' : 'stopped, with errors');
    process.exit(ok ? 0 : 1);
  }

  private get forcing(): boolean {
    return this.state === 'forcing';
  }

  private async force(signal: string): Promise<void> {
    this.state = 'forcing';
    this.log.warn({ signal }, 'second signal: stopping at once');
    for (const s of [...this.steps].reverse()) {
      try {
        await s.kill?.();
      } catch (error) {
        this.log.error({ err: error, step: s.name }, 'forced stop failed');
      }
    }
    process.exit(1);
  }

  /** Runs every clean stop in reverse order; a failing one is logged and the rest still run. */
  private async runSteps(): Promise<boolean> {
    let ok = true;
    for (const s of [...this.steps].reverse()) {
      if (this.forcing) return false;
      const startedAt = performance.now();
      try {
        await s.stop();
        this.log.debug({ step: s.name, ms: Math.round(performance.now() - startedAt) }, 'stopped');
      } catch (error) {
        ok = false;
        this.log.error({ err: error, step: s.name }, 'stop failed');
      }
    }
    return ok;
  }
}

/**
 * Started by npm (`npm start`, or `npx stockade` through its `sh -c`): stop when npm
 * goes away, so a supervisor that kills npm alone does not leave Stockade and its
 * services running as orphans. Any other parent (a shell, nohup, a supervisor) is not
 * watched: outliving it may be the point.
 */
export function watchNpmParent(stop: () => void): void {
  const parent = process.ppid;
  if (!startedByNpm(parent)) return;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, parentCheckMs);
  timer.unref();
}

function startedByNpm(ppid: number): boolean {
  const cmdline = procText(`/proc/${ppid}/cmdline`).replace(/\0/g, ' ');
  if (/^npm\b/.test(cmdline)) return true;
  if (!/^(\/bin\/)?sh -c /.test(cmdline)) return false;
  const grandparent = Number(procText(`/proc/${ppid}/stat`).split(') ')[1]?.split(' ')[1]);
  return grandparent > 1 && /^npm\b/.test(procText(`/proc/${grandparent}/cmdline`));
}

function procText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // no /proc (not Linux), or the process is gone
  }
}
