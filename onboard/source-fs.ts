// The little a detector needs from a file system: one folder's entries and a few small files.
// Detection goes through this interface so that tests can count what it opens, and so that it
// cannot walk a tree by accident: there is no recursive call to make.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../common/errors.js';

export type EntryKind = 'file' | 'dir' | 'other';

export interface SourceFs {
  /** The entries of one folder, not recursive. Symbolic links are reported as what they point to. */
  list(dir: string): Promise<Map<string, EntryKind>>;
  /** A small text file, or null when it does not exist. */
  read(path: string): Promise<string | null>;
  /** What a path is, or null when it does not exist. */
  kind(path: string): Promise<EntryKind | null>;
}

/** Manifests and lock files are small; anything larger is not one we can use. */
export const MAX_SOURCE_FILE_BYTES = 4 * 1024 * 1024;

function kindOf(s: { isFile(): boolean; isDirectory(): boolean }): EntryKind {
  return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
}

export const nodeSourceFs: SourceFs = {
  async list(dir) {
    const entries = new Map<string, EntryKind>();
    for (const e of await readdir(dir, { withFileTypes: true })) {
      entries.set(e.name, e.isSymbolicLink() ? 'other' : kindOf(e));
    }
    return entries;
  },
  async read(path) {
    try {
      const s = await stat(path);
      if (s.size > MAX_SOURCE_FILE_BYTES) throw new UsageError(`${path} is ${s.size} bytes; skyrec reads manifests and lock files of at most 4 MiB`);
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw err;
    }
  },
  async kind(path) {
    try {
      return kindOf(await stat(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
  },
};

/** The entries of `dir`, with symbolic links resolved for the few names the caller cares about. */
export async function listFolder(fs: SourceFs, dir: string, names: readonly string[]): Promise<Map<string, EntryKind>> {
  const entries = await fs.list(dir);
  for (const name of names) {
    if (entries.get(name) === 'other') entries.set(name, (await fs.kind(join(dir, name))) ?? 'other');
  }
  return entries;
}
