import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, lchownSync, lstatSync, mkdirSync, openSync,
  readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
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
 * A data directory's mode: 0711 when this process runs as root (the embedded
 * PostgreSQL and Redis then run as their own OS users and pass through it to
 * their own 0700 dirs), else 0700. Whoever creates the data dir uses it, so
 * the first to create it does not make it tighter than the services need.
 */
export function dataDirMode(): number {
  return process.geteuid?.() === 0 ? traversableDirMode : privateDirMode;
}

/**
 * Creates dir with `mode` (missing parents with dataDirMode()), or tightens an existing
 * one to it: bits beyond `mode` are removed. When an existing dir lacks a bit
 * `mode` needs (the user made it 0700 and another OS user must traverse it), it
 * is not loosened: a SERVICE_FAILED error says what to do instead.
 */
export function privateDir(dir: string, mode: number = privateDirMode): void {
  if (!existsSync(dir)) {
    const parent = dirname(dir);
    if (parent !== dir && !existsSync(parent)) privateDir(parent, dataDirMode());
    if (makeDir(dir)) {
      chmodSync(dir, mode); // mkdir's mode is cut by the umask
      return;
    }
  }
  const current = statSync(dir).mode & permissionBits;
  if ((current & ~mode) !== 0) chmodSync(dir, current & mode);
  const missing = mode & ~current;
  if (missing !== 0) {
    throw new StockadeError('SERVICE_FAILED', `${dir} is mode ${octal(current)}; the embedded services need ${octal(mode)} `
      + `(another OS user runs them and must pass through it). Stockade does not loosen a directory you made: chmod ${octal(mode)} ${dir}, or use another STOCKADE_DATA_DIR`);
  }
}

/** mkdir, 0700: false when another process made it meanwhile. */
function makeDir(dir: string): boolean {
  try {
    mkdirSync(dir, { mode: privateDirMode });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * A file's text, made 0600 first when it was readable by others (an older
 * Stockade wrote 0644). Only a plain file of this process's user with one
 * name: a symbolic or hard link planted by another account (the service user
 * owns the dir a service's secrets live in) is refused, not followed.
 */
export function readPrivateFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw notPrivate(file, 'is a symbolic link');
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    const uid = process.geteuid?.();
    if (!stat.isFile() || stat.nlink !== 1) throw notPrivate(file, 'is not a plain file with one name');
    if (uid !== undefined && stat.uid !== uid) throw notPrivate(file, `belongs to uid ${stat.uid}, not to this process's user (uid ${uid})`);
    if ((stat.mode & permissionBits & ~privateFileMode) !== 0) fchmodSync(fd, privateFileMode);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

function notPrivate(file: string, what: string): StockadeError {
  return new StockadeError('SERVICE_FAILED', `${file} ${what}: Stockade reads its secrets only from its own files; remove it and start again (a new one is made)`);
}

/**
 * Replaces file with text atomically (a 0600 temporary file renamed over it),
 * owned by `owner` when given (root writing a file a service's OS user reads).
 * rename() replaces a link, never writes through it.
 */
export function replacePrivateFile(file: string, text: string, owner?: { uid: number; gid: number }): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', privateFileMode);
  try {
    writeSync(fd, text);
    if (owner) fchownSync(fd, owner.uid, owner.gid);
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

/**
 * Tightens what an older Stockade left open under dir: files to 0600, dirs to
 * 0700 (symbolic links are left alone). Only for a tree this process's user
 * owns (so no other account can swap a name under it meanwhile).
 */
export function tightenTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    const mode = stat.mode & permissionBits;
    const wanted = stat.isDirectory() ? privateDirMode : privateFileMode;
    if ((mode & ~wanted) !== 0) chmodSync(path, mode & wanted);
    if (stat.isDirectory()) tightenTree(path);
  }
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

/**
 * An embedded service's own dir: 0700, owned by the OS user the service runs
 * as (`owner`, when Stockade runs as root; the service makes its files 0600
 * itself, under umask 077). One an older Stockade left (root's or this user's,
 * files 0644): tightened when `tighten`, and handed to `owner`.
 */
export function serviceDir(dir: string, owner: { uid: number; gid: number } | null, o: { tighten: boolean }): void {
  privateDir(dir);
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new StockadeError('SERVICE_FAILED', `${dir} is not a directory (a symbolic link?): Stockade keeps a service's data in a directory of its own`);
  if (owner && stat.uid === owner.uid) return;
  const me = process.geteuid?.();
  if (me !== undefined && stat.uid !== me) {
    throw new StockadeError('SERVICE_FAILED', `${dir} belongs to uid ${stat.uid}, neither to this process's user nor to the service's: `
      + 'Stockade does not take over a directory another account owns; move it away or use another STOCKADE_DATA_DIR');
  }
  if (o.tighten) tightenTree(dir);
  if (owner) {
    chownTree(dir, owner);
    chownSync(dir, owner.uid, owner.gid);
  }
}

/** lchown of everything below dir (links themselves, never what they point to). */
function chownTree(dir: string, owner: { uid: number; gid: number }): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    lchownSync(path, owner.uid, owner.gid);
    if (stat.isDirectory()) chownTree(path, owner);
  }
}
