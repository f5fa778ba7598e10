// Where the loader reads a config repo from. A worktree today; a git commit (through
// isomorphic-git) later, behind the same four questions.
import fs from 'node:fs';
import path from 'node:path';
import { SpecError, UsageError } from '../common/errors.js';

export interface ConfigSource {
  /** Text of a file relative to the repo root, or null if absent. */
  readFile(path: string): Promise<string | null>;
  /** Size in bytes or null if absent (so huge files are refused before reading). */
  fileSize(path: string): Promise<number | null>;
  /** Entries (names) of a directory relative to root, or null if absent. */
  listDir(path: string): Promise<string[] | null>;
  /** 'file' | 'dir' | null, for build.path checks. Anything resolving outside the repo root is null. */
  stat(path: string): Promise<'file' | 'dir' | null>;
  /** The git blob id of a file, when the source knows it without reading the file (git trees). */
  blobId?(path: string): Promise<string | null>;
}

/**
 * A config repo checked out in `dir`. Every path is resolved through symlinks and must stay
 * inside the repo: a spec (or a link in the repo) cannot make skyrec read /etc/shadow or
 * build from a folder outside the reviewed tree. Such paths read as absent.
 */
export function worktreeSource(dir: string): ConfigSource {
  const root = path.resolve(dir);
  let realRoot: string | null | undefined;

  // Synchronous calls on purpose: for thousands of small local files they are several times
  // faster than fs/promises, whose every open/stat/read/close is a thread-pool round trip.
  function resolveInside(rel: string): string | null {
    if (!isPlainRelative(rel)) return null;
    if (realRoot === undefined) realRoot = attempt(() => fs.realpathSync.native(root));
    if (realRoot === null) return null;
    const real = attempt(() => fs.realpathSync.native(path.join(root, rel)));
    if (real === null) return null;
    return real === realRoot || real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep) ? real : null;
  }

  // Folders are resolved once per source: a file in one is then one lstat, not a realpath (a
  // syscall per path component) and a stat. A name that is a link is resolved whole.
  const realDirs = new Map<string, string | null>();
  function statInside(rel: string) {
    const slash = rel.lastIndexOf('/');
    if (slash > 0 && isPlainRelative(rel)) {
      const folder = rel.slice(0, slash);
      let realDir = realDirs.get(folder);
      if (realDir === undefined) realDirs.set(folder, (realDir = resolveInside(folder)));
      if (realDir === null) return null; // a missing folder, or one outside the repo
      const real = path.join(realDir, rel.slice(slash + 1));
      const st = attempt(() => fs.lstatSync(real));
      if (st === null) return null;
      if (!st.isSymbolicLink()) return { real, st };
    }
    const real = resolveInside(rel);
    if (real === null) return null;
    const st = attempt(() => fs.statSync(real));
    return st && { real, st };
  }

  return {
    async readFile(rel) {
      const found = statInside(rel);
      if (!found || !found.st.isFile()) return null;
      return attempt(() => fs.readFileSync(found.real, 'utf8'));
    },
    async fileSize(rel) {
      const found = statInside(rel);
      return found && found.st.isFile() ? found.st.size : null;
    },
    async listDir(rel) {
      const found = statInside(rel);
      if (!found || !found.st.isDirectory()) return null;
      return attempt(() => fs.readdirSync(found.real));
    },
    async stat(rel) {
      const found = statInside(rel);
      if (!found) return null;
      return found.st.isFile() ? 'file' : found.st.isDirectory() ? 'dir' : null;
    },
  };
}

function attempt<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

/** '' or 'a/b' style: not absolute, no '.'/'..' segments, no NUL or backslash. */
function isPlainRelative(rel: string): boolean {
  if (rel === '' || rel === '.') return true;
  if (rel.startsWith('/') || rel.includes('\0') || rel.includes('\\')) return false;
  return rel.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** The config repo's folder, resolved; a usage error (exit 2) naming it when it is not a folder (a mistyped --repo). */
function configRepoFolder(dir: string): string {
  const hint = "pass --repo the config repo's folder (default: the current folder)";
  try {
    const root = fs.realpathSync(path.resolve(dir));
    if (!fs.statSync(root).isDirectory()) throw new UsageError(`the config repo ${dir} is not a folder`, { hint });
    return root;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`the config repo ${dir} does not exist`, { hint });
    throw err;
  }
}

/**
 * Reads whole folders of a worktree (app sources), staying inside it. node_modules and .git
 * folders are left out: they are never part of a committed source, and a digest of the working
 * tree must match the digest of the same files committed.
 */
export function worktreeFiles(dir: string): { listFiles(rel: string): Promise<string[]>; readBytes(rel: string): Promise<Buffer> } {
  const root = configRepoFolder(dir);
  // Validation has checked build.path itself; what is refused here is a name found below it.
  const refuse = (rel: string, message: string) => new SpecError([{ file: rel, line: 1, col: 1, message }]);
  const inside = (rel: string) => {
    if (!isPlainRelative(rel)) throw refuse(rel, "cannot be part of a build source: a name with a backslash (or a '.' or '..' part) could name a path outside it; rename it");
    const real = fs.realpathSync(path.join(root, rel));
    if (real !== root && !real.startsWith(root + path.sep)) throw refuse(rel, 'leads outside the config repo; a build source must be a folder inside it');
    return real;
  };
  return {
    async listFiles(rel) {
      const out: string[] = [];
      const walk = (r: string) => {
        for (const e of fs.readdirSync(inside(r), { withFileTypes: true })) {
          const child = `${r}/${e.name}`;
          if (e.isDirectory()) {
            if (e.name !== 'node_modules' && e.name !== '.git') walk(child);
          }
          else if (e.isFile()) out.push(child);
        }
      };
      walk(rel);
      return out.sort();
    },
    async readBytes(rel) {
      return fs.readFileSync(inside(rel));
    },
  };
}
