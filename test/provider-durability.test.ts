import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

// The simulated provider's record of a charge must survive a power loss: the
// file is fsynced before it is linked into place, and the directory after, so
// that the new name is durable too. Seen at the syscall level, with strace.
const run = promisify(execFile);

it('a recorded charge: file fsynced, linked into place, then its directory fsynced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stockade-durable-'));
  const trace = join(dir, 'trace.txt');
  const providerDir = join(dir, 'provider');
  const script = new URL('./support/charge-once.ts', import.meta.url).pathname;
  const { stdout } = await run('strace', ['-f', '-y', '-e', 'trace=link,linkat,fsync,fdatasync', '-o', trace,
    process.execPath, '--import', 'tsx', script, providerDir]);
  expect(JSON.parse(stdout)).toMatchObject({ status: 'captured' });
  // One syscall per line, in order: "<tid> fsync(20</path>) = 0".
  const calls = readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes(providerDir) && / = 0$/.test(l));
  const linked = calls.findIndex((l) => /link(at)?\(.*\.tmp", .*\/[0-9a-f]{40}\.json"/.test(l));
  expect(linked, calls.join('\n')).toBeGreaterThan(0);
  const recordDir = /"([^"]+)\/[0-9a-f]{40}\.json"/.exec(calls[linked]!)![1]!;
  expect(calls.slice(0, linked).some((l) => /fsync\(\d+<[^>]+\.tmp>\)/.test(l)), 'the file fsynced before the link').toBe(true);
  expect(calls.slice(linked + 1).some((l) => l.includes(`fsync(`) && l.includes(`<${recordDir}>)`)), 'the directory fsynced after the link').toBe(true);
});
