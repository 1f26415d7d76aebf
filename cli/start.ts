import { runWorkersOnly, start } from '../app/start.ts';

/** `stockade start` (what `npm start` runs). */
export async function startCommand(): Promise<void> {
  await start();
}

/** `stockade workers`. */
export async function workersCommand(): Promise<void> {
  await runWorkersOnly();
}
