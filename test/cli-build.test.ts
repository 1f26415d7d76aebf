import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

// bin/build.mjs compiles the command into dist/, and bin/stockade.mjs runs dist/
// only while it matches the sources. Checked on a copy of the project whose
// node_modules lacks tsx: there the command runs only when dist/ is used, and an
// attempt to run the sources (dist/ missing or stale) fails for want of tsx.

const project = resolve('.');
const copy = mkdtempSync(join(tmpdir(), 'stockade-build-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const skipped = new Set(['node_modules', 'dist', '.git', '.data', 'tmp', 'test']);
cpSync(project, copy, { recursive: true, filter: (src) => {
  const top = src.slice(project.length + 1).split('/')[0]!;
  return !skipped.has(top) && !top.startsWith('.dist-build-');
} });
mkdirSync(join(copy, 'node_modules'));
for (const name of readdirSync(join(project, 'node_modules'))) {
  if (name !== 'tsx') symlinkSync(join(project, 'node_modules', name), join(copy, 'node_modules', name));
}

function node(args: string[]) {
  const run = spawnSync(process.execPath, args, { cwd: copy, env: { PATH: process.env.PATH ?? '', TMPDIR: tmpdir() }, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const fromSourceFails = (run: ReturnType<typeof node>) => {
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/Cannot find package 'tsx'/);
};

it('runs dist/ once built, and the sources (never a stale dist/) after an edit, until the next build', () => {
  fromSourceFails(node(['bin/stockade.mjs', '--version'])); // nothing built yet

  const build = node(['bin/build.mjs']);
  expect(build.status, build.stderr).toBe(0);
  expect(existsSync(join(copy, 'dist', 'main.js'))).toBe(true);
  expect(node(['bin/stockade.mjs', '--version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  const config = node(['bin/stockade.mjs', 'config', '--for', 'services', '--json']);
  expect(config.status, config.stderr).toBe(0);
  expect(JSON.parse(config.stdout).STOCKADE_DATA_DIR.source).toBe('default');

  appendFileSync(join(copy, 'settings', 'registry.ts'), '\n// an edit\n');
  fromSourceFails(node(['bin/stockade.mjs', '--version']));
  expect(node(['bin/build.mjs']).status).toBe(0);
  expect(node(['bin/stockade.mjs', '--version']).status).toBe(0);
});

it('a build that fails stops `npm run build`, but only warns under --soft (npm install, start, test), leaving the sources to run', () => {
  appendFileSync(join(copy, 'cli', 'config.ts'), '\nexport const broken = ;\n');
  const strict = node(['bin/build.mjs']);
  expect(strict.status).toBe(1);
  expect(strict.stderr).toContain('cli/config.ts');
  const soft = node(['bin/build.mjs', '--soft']);
  expect(soft.status, soft.stderr).toBe(0);
  expect(soft.stderr).toContain('building dist/ failed; the command runs from the TypeScript sources instead');
  fromSourceFails(node(['bin/stockade.mjs', '--version']));
});
