import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { StockadeError } from '../common/errors.ts';

/*
 * What Stockade keeps on disk is private to the account that runs it (issue
 * #11): directories 0700 (0711 where another OS user, the one the embedded
 * PostgreSQL or Redis runs as, must pass through), files 0600. A directory the
 * user made is tightened when it is more open than that, never loosened.
 */

export const privateFileMode = 0o600;
export const privateDirMode = 0o700;
/** Others may pass through (not list or read): the parent of a service's own data dir when it runs as another OS user. */
export const traversableDirMode = 0o711;

const permissionBits = 0o777;

/**
 * Creates dir (and missing parents, 0700) with `mode`, or tightens an existing
 * one to it: bits beyond `mode` are removed. When an existing dir lacks a bit
 * `mode` needs (the user made it 0700 and another OS user must traverse it), it
 * is not loosened: PRIVATE_DIR says what to do instead.
 */
export function privateDir(dir: string, mode: number = privateDirMode): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: privateDirMode });
    chmodSync(dir, mode); // mkdir's mode is cut by the umask
    return;
  }
  const current = statSync(dir).mode & permissionBits;
  if ((current & ~mode) !== 0) chmodSync(dir, current & mode);
  const missing = mode & ~current;
  if (missing !== 0) {
    throw new StockadeError('PRIVATE_DIR', `${dir} is mode ${octal(current)}; the embedded services need ${octal(mode)} `
      + `(another OS user runs them and must pass through it). Stockade does not loosen a directory you made: chmod ${octal(mode)} ${dir}, or use another STOCKADE_DATA_DIR`);
  }
}

/** A file's text, made 0600 first when it was readable by others (an older Stockade wrote 0644). */
export function readPrivateFile(file: string): string {
  const mode = statSync(file).mode & permissionBits;
  if ((mode & ~privateFileMode) !== 0) chmodSync(file, privateFileMode);
  return readFileSync(file, 'utf8');
}

/**
 * Writes text to a new file, 0600 from its first byte (O_EXCL): false when the
 * file exists already (another process was first).
 */
export function createPrivateFile(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', privateFileMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** A random secret: `bytes` random bytes, base64url (no characters that need quoting in a URL or a config file). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * The secret kept in file (0600), made by `make` on first use. Two processes
 * that race get the same one: the first to create the file wins.
 */
export function secretFile(file: string, make: () => string = () => randomSecret()): { value: string; created: boolean } {
  if (existsSync(file)) return { value: readPrivateFile(file).trim(), created: false };
  const value = make();
  if (createPrivateFile(file, `${value}\n`)) return { value, created: true };
  return { value: readPrivateFile(file).trim(), created: false };
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}
