import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { privateDir, secretFile, traversableDirMode } from './private-files.ts';

const root = mkdtempSync(join(tmpdir(), 'private-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const modeOf = (path: string) => statSync(path).mode & 0o777;

test('a new directory is 0700 whatever the umask; an open one is tightened', () => {
  const fresh = join(root, 'a', 'b');
  privateDir(fresh);
  expect(modeOf(fresh)).toBe(0o700);
  const open = join(root, 'open');
  mkdirSync(open);
  chmodSync(open, 0o755);
  privateDir(open, traversableDirMode);
  expect(modeOf(open)).toBe(0o711);
});

test('a directory the user made 0700 is never loosened: the error says what to do', () => {
  const mine = join(root, 'mine');
  mkdirSync(mine, { mode: 0o700 });
  expect(() => privateDir(mine, traversableDirMode)).toThrow(/does not loosen.*chmod 0711/);
  expect(modeOf(mine)).toBe(0o700);
});

test('a secret file is 0600, made once, and read back; an old 0644 one is tightened', () => {
  const file = join(root, 'secret');
  const first = secretFile(file);
  expect(first.created).toBe(true);
  expect(first.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(modeOf(file)).toBe(0o600);
  expect(secretFile(file)).toEqual({ value: first.value, created: false });
  const old = join(root, 'old');
  writeFileSync(old, 'abc\n', { mode: 0o644 });
  expect(secretFile(old).value).toBe('abc');
  expect(modeOf(old)).toBe(0o600);
});

test('a secret is read only from a plain file of its own: a planted symbolic or hard link is refused, not followed', () => {
  const target = join(root, 'elsewhere');
  writeFileSync(target, 'not a secret\n', { mode: 0o644 });
  const planted = join(root, 'planted.password');
  symlinkSync(target, planted);
  expect(() => secretFile(planted)).toThrow(/symbolic link/);
  const linked = join(root, 'linked.password');
  linkSync(target, linked);
  expect(() => secretFile(linked)).toThrow(/one name/);
  expect(modeOf(target)).toBe(0o644); // untouched
});
