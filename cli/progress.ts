/**
 * The task list a long command shows while it runs: one line per step with a
 * spinner and a timer, on stderr, and only when stderr is a terminal and the
 * output is not --json (so pipes, logs and scripts see nothing but the result).
 */
export interface Step {
  title: string;
  /** How long the step is expected to take, for a progress bar under its title. */
  expectedSeconds?: number;
  /** The step; `report` sets the line under its title (counts so far, a phase). */
  run: (report: (text: string) => void) => Promise<void>;
}

/** Bar width in characters. */
const barWidth = 24;
/** How often a timed step's bar is redrawn. */
const barRedrawMs = 250;

export function progressShown(opts: { json?: boolean }): boolean {
  return !opts.json && process.stderr.isTTY === true;
}

/** Runs the steps one after another; a failing step fails the run with its error. */
export async function runSteps(steps: Step[], opts: { json?: boolean }): Promise<void> {
  if (!progressShown(opts)) {
    for (const step of steps) await step.run(() => {});
    return;
  }
  const { Listr, ListrLogger, ProcessOutput, PRESET_TIMER } = await import('listr2');
  const list = new Listr(steps.map((step) => ({
    title: step.title,
    task: async (_ctx: unknown, task: { output: string }) => {
      const started = Date.now();
      let note = '';
      const draw = () => {
        task.output = [step.expectedSeconds ? bar((Date.now() - started) / 1000, step.expectedSeconds) : '', note].filter(Boolean).join('  ');
      };
      const timer = step.expectedSeconds ? setInterval(draw, barRedrawMs) : null;
      try {
        await step.run((text) => { note = text; draw(); });
      } finally {
        if (timer) clearInterval(timer);
      }
    },
  })), {
    concurrent: false,
    exitOnError: true,
    // The command's own handler (bench/scratch.ts) stops services and removes scratch dirs on SIGINT; listr2's would exit at once.
    registerSignalListeners: false,
    // A failed step is marked ✖; its error is printed once, by the command (cli/main.ts).
    rendererOptions: { timer: PRESET_TIMER, showErrorMessage: false, logger: new ListrLogger({ useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr) }) },
  });
  await list.run();
}

function bar(elapsedSec: number, expectedSec: number): string {
  const done = Math.min(barWidth, Math.round((elapsedSec / expectedSec) * barWidth));
  return `${'█'.repeat(done)}${'░'.repeat(barWidth - done)} ${Math.min(elapsedSec, expectedSec).toFixed(0)}/${expectedSec} s`;
}
