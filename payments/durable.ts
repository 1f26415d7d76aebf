import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync of a directory: makes the names created in it (link, mkdir) survive a power loss. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The provider's records are private (issue #11): dirs 0700, files 0600; an older Stockade's 0755 / 0644 are tightened when met. */
const dirMode = 0o700;
const fileMode = 0o600;

/**
 * Directories this process has made sure of. A flash sale writes thousands of records into the same 256
 * buckets: the mkdir and stat of every write were 2 of its 11 file system calls (issue #14). Bounded: a
 * process that sees more directories than this starts the set over.
 */
const ensuredDirs = new Set<string>();
const ensuredDirsMax = 4_096;

/** Creates dir (and its parent's entry for it) durably, 0700; an existing one more open than that is tightened. Once per process. */
async function ensureDir(dir: string): Promise<void> {
  if (ensuredDirs.has(dir)) return;
  const created = await mkdir(dir, { recursive: true, mode: dirMode });
  if (created !== undefined) await syncDir(dirname(dir));
  else if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, dirMode);
  if (ensuredDirs.size >= ensuredDirsMax) ensuredDirs.clear();
  ensuredDirs.add(dir);
}

/** Opens a new file in a directory made sure of before; one removed since (a test's scratch dir) is made again. */
async function openNew(path: string) {
  const dir = dirname(path);
  await ensureDir(dir);
  try {
    return await open(path, 'wx', fileMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    ensuredDirs.delete(dir);
    await ensureDir(dir);
    return open(path, 'wx', fileMode);
  }
}

/**
 * Writes text to path unless the path exists: true when this call created it.
 * The text is written and fsynced under a temporary name, hard-linked into
 * place (link() fails when the name exists, so the first writer wins and a
 * reader never sees a partial file), and the directory is fsynced, so the new
 * name survives a power loss too.
 */
export async function writeOnce(path: string, text: string): Promise<boolean> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await openNew(tmp);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  let created = true;
  try {
    await link(tmp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    created = false;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  // Also when another writer won: its name may not be durable yet, and the caller is about to act on it.
  await syncDir(dir);
  return created;
}

/**
 * Gives an existing file a second name, durably (the new name's directory is
 * fsynced); a name that exists already is kept. For an index beside records
 * written by writeOnce.
 */
export async function linkOnce(existing: string, path: string): Promise<void> {
  const dir = dirname(path);
  await ensureDir(dir);
  const linked = () => link(existing, path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  try {
    await linked();
  } catch (error) {
    // A directory removed since this process made sure of it (a test's scratch dir) is made again.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    ensuredDirs.delete(dir);
    await ensureDir(dir);
    await linked();
  }
  await syncDir(dir);
}

/** A file's text, or null when it does not exist; one readable by others (an older Stockade's) is made 0600 first. */
export async function readIfExists(path: string): Promise<string | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    if (((await handle.stat()).mode & 0o077) !== 0) await handle.chmod(fileMode);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** The names in a directory, or none when it does not exist. */
export async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
