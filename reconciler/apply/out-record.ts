// What `skyrec render` left in an --out folder, recorded in the compile cache: the working tree it
// rendered (worktree-key.ts), each node's files with their digests, and the stat of every file
// and folder there (size, mtime, ctime, inode, as git's index keeps them). A render of the same
// tree to a folder whose every stat is unchanged would place the same instances (read back from
// the same manifests) and write nothing: it is known without reading a spec, a placement or a
// manifest. A record is made only by a run that wrote nothing, after comparing every file in the
// folder with what was rendered (a file edited by hand is rewritten first), and only when no
// stat is recent enough to move again within its clock tick (git's "racy" case). An edit by hand
// later changes a ctime, which nothing can set back: that node is compared again and rewritten.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, realpathSync, rmSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { keepNewest, readV8File, writeV8File } from '../pipeline/v8-file.js';

const FORMAT = 'skyrec-out-record-1';
/** A stat this recent may still be followed by an edit within the same clock tick: not recorded. */
const RACY_MS = 2000;

/** A node folder as compared with its render: each file's sha256 (RenderedNode.fileDigests, digestFiles) and each entry's stat. */
export interface NodeFolder {
  node: string;
  hash: string;
  digests: Record<string, string>;
  /** Path relative to the node folder ('' for the folder itself) → stat. */
  stats: [string, string][];
}

interface OutRecord {
  tree: string;
  /** The --out folder's own stat: a folder added or removed in it changes it. */
  self: string;
  nodes: NodeFolder[];
}

const statOf = (st: Stats) => `${st.isDirectory() ? 'd' : 'f'} ${st.size} ${st.mtimeMs} ${st.ctimeMs} ${st.ino}`;
const lstatOf = (path: string): string | null => {
  try {
    return statOf(lstatSync(path));
  } catch {
    return null;
  }
};

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * A node folder as it is on disk: every file's digest and every entry's stat, or null when it
 * holds something else than folders and regular files, or cannot be read.
 */
export function readNodeFolder(outDir: string, node: string, hash: string): NodeFolder | null {
  const root = join(outDir, node);
  const digests: Record<string, string> = {};
  const stats: [string, string][] = [];
  const walk = (rel: string): boolean => {
    const path = rel === '' ? root : join(root, rel);
    const st = lstatSync(path);
    stats.push([rel, statOf(st)]);
    if (st.isFile()) {
      digests[rel] = sha256(readFileSync(path));
      return true;
    }
    if (!st.isDirectory()) return false;
    for (const name of readdirSync(path).sort()) if (!walk(rel === '' ? name : `${rel}/${name}`)) return false;
    return true;
  };
  try {
    return walk('') ? { node, hash, digests, stats } : null;
  } catch {
    return null;
  }
}

/** The same files, byte for byte, by their digests. */
export function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

export interface OutRecords {
  /**
   * The record of `outDir` if `tree` was rendered there and nothing in it changed since: what the
   * render printed then (every node unchanged). Otherwise the node folders it knows unchanged (their files need not be read).
   */
  check(outDir: string, tree: string): { unchanged: NodeFolder[] } | { intact: Map<string, NodeFolder> };
  /** Records what a run that wrote nothing found in `outDir`; forgets it when any stat is too recent. */
  record(outDir: string, tree: string, nodes: NodeFolder[], now?: number): void;
  /** Forgets what `outDir` held (a run wrote to it). */
  forget(outDir: string): void;
}

/** Records kept: the folders rendered to last. */
const KEEP = 16;

/** @param fingerprint the compile code (code-fingerprint.ts): what another version recorded is not used */
export function openOutRecords(cacheDir: string, fingerprint: string): OutRecords {
  const tag = `${FORMAT} ${fingerprint}`;
  const fileOf = (outDir: string) => {
    let real = outDir;
    try {
      real = realpathSync(outDir);
    } catch {
      // not there yet: known by the path given
    }
    return join(cacheDir, 'outs', `${createHash('sha256').update(real).digest('hex').slice(0, 32)}.v8`);
  };
  return {
    check(outDir, tree) {
      const record = readV8File<OutRecord>(fileOf(outDir), tag);
      const intact = new Map<string, NodeFolder>();
      if (!record) return { intact };
      for (const n of record.nodes) if (n.stats.every(([rel, stat]) => lstatOf(rel === '' ? join(outDir, n.node) : join(outDir, n.node, rel)) === stat)) intact.set(n.node, n);
      if (record.tree === tree && intact.size === record.nodes.length && lstatOf(outDir) === record.self) return { unchanged: record.nodes };
      return { intact };
    },
    record(outDir, tree, nodes, now = Date.now()) {
      keepNewest(join(cacheDir, 'outs'), KEEP - 1); // and the one written below
      const self = lstatOf(outDir);
      const recent = (stat: string) => {
        const [, , mtime, ctime] = stat.split(' ');
        return now - Number(mtime) <= RACY_MS || now - Number(ctime) <= RACY_MS;
      };
      if (self === null || recent(self) || nodes.some((n) => n.stats.some(([, stat]) => recent(stat)))) return this.forget(outDir);
      try {
        writeV8File(fileOf(outDir), tag, { tree, self, nodes } satisfies OutRecord);
      } catch {
        // a read-only cache: the next run compiles again
      }
    },
    forget(outDir) {
      rmSync(fileOf(outDir), { force: true });
    },
  };
}
