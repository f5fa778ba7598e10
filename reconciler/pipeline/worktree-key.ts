// What a working tree holds, as one digest: the compile cache's key for a working tree, as a
// commit id is for a commit. Two working trees with the same key hold the same files (paths,
// bytes, symlinks, folders), so they validate to the same config, and a key validated before
// is not read or parsed again. Each file's git blob id is remembered with its stat (size,
// mtime, ctime, inode), as git's index does, so an unchanged file is not read either: a run
// over an unchanged tree costs one stat per file. ctime is set by the kernel on every write,
// rename or chmod and cannot be set back by hand, so an edit is never missed; a file changed
// within the same clock tick as it was hashed is simply not remembered (git's "racy" case).
// .git and node_modules are left out, as worktreeFiles (schema/source.ts) leaves them out of
// build sources: nothing skyrec validates or digests reads them.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { readV8File, writeV8File } from './v8-file.js';
import type { ConfigSource } from '../../schema/source.js';

const FORMAT = 'skyrec-worktree-stat-1';
/** A file modified this recently is hashed again next time: its mtime could still move within the tick. */
const RACY_MS = 2000;

interface Seen {
  /** `${size} ${mtimeMs} ${ctimeMs} ${ino}` (the times with their fraction: microseconds or finer) */
  stat: string;
  blob: string;
}

/** git's blob id of a file's bytes (`git hash-object`). */
const blobOf = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

export interface WorktreeSnapshot {
  /** sha256 hex over every path and what it holds. */
  key: string;
  /** Each regular file's git blob id, by path: a spec whose blob was parsed before is not read (schema/validate.ts). */
  blobs: Map<string, string>;
}

/**
 * The working tree in `dir` as a key, or null when it cannot be read whole (the compile then
 * reads it as it is, and reports what it finds). `cacheDir`: where the blob ids by stat are kept
 * between runs (one file per working tree); null keeps nothing. `now`: the time a file's stat is
 * compared with (tests move it on rather than wait).
 */
export function snapshotWorktree(dir: string, cacheDir: string | null, now = Date.now()): WorktreeSnapshot | null {
  try {
    return digestWorktree(realpathSync(dir), cacheDir, now);
  } catch {
    return null;
  }
}

/** A worktree source that knows each file's blob id from a snapshot, as a git tree does. */
export function withBlobIds(source: ConfigSource, snapshot: WorktreeSnapshot | null): ConfigSource {
  if (!snapshot) return source;
  return { ...source, blobId: async (path) => snapshot.blobs.get(path) ?? null };
}

function digestWorktree(root: string, cacheDir: string | null, now: number): WorktreeSnapshot {
  const file = cacheDir && join(cacheDir, 'worktrees', `${createHash('sha256').update(root).digest('hex').slice(0, 32)}.v8`);
  const before = (file && readV8File<Map<string, Seen>>(file, FORMAT)) || new Map<string, Seen>();
  const after = new Map<string, Seen>();
  const h = createHash('sha256');
  const blobs = new Map<string, string>();
  let changed = false;
  const walk = (rel: string) => {
    const entries = readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name === '.git' || e.name === 'node_modules') continue;
        h.update(`d ${path}\0`);
        walk(path);
      } else if (e.isSymbolicLink()) {
        h.update(`l ${path}\0${readlinkSync(join(root, path))}\0`);
      } else if (e.isFile()) {
        const st = lstatSync(join(root, path));
        const stat = `${st.size} ${st.mtimeMs} ${st.ctimeMs} ${st.ino}`;
        let seen = before.get(path);
        if (seen?.stat !== stat) {
          seen = { stat, blob: blobOf(readFileSync(join(root, path))) };
          changed = true;
        }
        if (now - st.mtimeMs > RACY_MS && now - st.ctimeMs > RACY_MS) after.set(path, seen);
        else changed = true;
        h.update(`f ${path}\0${seen.blob}\0`);
        blobs.set(path, seen.blob);
      }
      // Sockets, fifos and devices are nothing skyrec reads.
    }
  };
  walk('');
  if (file && (changed || after.size !== before.size)) {
    try {
      writeV8File(file, FORMAT, after);
    } catch {
      // a read-only cache: the next run hashes again
    }
  }
  return { key: h.digest('hex'), blobs };
}
