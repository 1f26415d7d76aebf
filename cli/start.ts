import { start } from '../app/start.ts';

/** `stockade start` (what `npm start` runs). */
export async function startCommand(): Promise<void> {
  await start();
}
