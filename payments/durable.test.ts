import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOnce } from './durable.ts';

const root = mkdtempSync(join(tmpdir(), 'stockade-durable-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeOnce', () => {
  it('the first writer wins; the file is 0600 in a 0700 directory', async () => {
    const path = join(root, 'a', 'one.json');
    expect(await writeOnce(path, 'first')).toBe(true);
    expect(await writeOnce(path, 'second')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('first');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o700);
  });

  it('writes into a directory removed since this process made sure of it (it is made again)', async () => {
    const dir = join(root, 'b');
    expect(await writeOnce(join(dir, 'one.json'), 'x')).toBe(true);
    rmSync(dir, { recursive: true });
    expect(await writeOnce(join(dir, 'two.json'), 'y')).toBe(true);
    expect(readFileSync(join(dir, 'two.json'), 'utf8')).toBe('y');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});
