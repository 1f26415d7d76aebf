#!/usr/bin/env node
// The `stockade` command. Runs dist/ (compiled by bin/build.mjs at install, and by
// npm start and npm test) when it was built from the sources as they are now;
// otherwise the TypeScript sources through tsx's loader (slower to start, never stale).
import { freshEntry } from './build.mjs';

const entry = freshEntry();
if (entry) {
  process.setSourceMapsEnabled(true);
  await import(entry);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
