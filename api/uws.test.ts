import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { loadUws, uwsSupport } from './uws.ts';

test('loads the native build on this Node', () => {
  const uws = loadUws();
  expect(Function.prototype.toString.call(uws.App)).toContain('[native code]');
});

test('refuses when the native build does not load, naming this Node and glibc and the ones that work', async () => {
  // --no-addons makes every native module fail to load, as a Node without a build would.
  const script = `import { loadUws } from ${JSON.stringify(new URL('./uws.ts', import.meta.url).href)};
    try { loadUws(); console.log('loaded'); } catch (e) { console.log(e.code + ' ' + e.message); }`;
  const { stdout } = await promisify(execFile)(process.execPath,
    ['--no-addons', '--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 });
  expect(stdout).toContain('SERVICE_FAILED uWebSockets.js: its native build did not load (Cannot load native addon');
  expect(stdout).toContain(`This is Node ${process.versions.node} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`);
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
  if (glibc) expect(stdout).toContain(`, glibc ${glibc};`);
  expect(stdout).toContain(uwsSupport);
});
