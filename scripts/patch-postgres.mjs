// Applies a fix to postgres.js 3.4.9 (the newest release, unfixed upstream:
// porsager/postgres#1154, #1208). When a connection closes with a small write
// still scheduled, nextWrite() runs on a null socket and throws from a
// setImmediate callback: an uncaught exception that kills the process. That
// is exactly what a PostgreSQL restart does to Stockade's workers. And closed()
// clears the scheduled write without forgetting it, so a reconnected
// connection never flushes again (the query hangs).
// The patch: nextWrite() on a closed connection fails the pending work with
// CONNECTION_CLOSED (the caller retries) instead of crashing; closed()
// forgets the cancelled write. Idempotent; fails loudly if the library's text
// is not what it patches (scripts/setup.sh runs it after every install).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const marker = '/* stockade: closed-socket guard */';
const fixes = [
  [
    '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)',
    `  function nextWrite(fn) {\n    if (socket === null) { ${marker}\n      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options, socket))\n      return false\n    }\n    const x = socket.write(chunk, fn)`,
  ],
  ['    clearImmediate(nextWriteTimer)\n    socket.removeListener', '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener'],
];

for (const variant of ['src', 'cjs/src']) {
  const file = fileURLToPath(new URL(`../node_modules/postgres/${variant}/connection.js`, import.meta.url));
  let text = readFileSync(file, 'utf8');
  if (text.includes(marker)) continue;
  for (const [from, to] of fixes) {
    if (!text.includes(from)) {
      console.error(`patch-postgres: ${variant}/connection.js does not contain the expected code; is postgres still 3.4.9?`);
      process.exit(1);
    }
    text = text.replace(from, to);
  }
  writeFileSync(file, text);
  console.error(`patch-postgres: patched ${variant}/connection.js`);
}
