// The one module that reads git: revisions, merge bases, and a ConfigSource over a commit's
// tree, all through isomorphic-git's object store (no checkout, no working-tree change).
import fs from 'node:fs';
import { join } from 'node:path';
import type { ConfigSource } from '../../schema/source.js';
import { GitError } from '../../common/errors.js';
import { redactUrl } from './git-url.js';
import { objectReader, type ObjectReader } from './git-objects.js';
import { lazyModule } from '../../common/lazy-module.js';

/**
 * Loaded on the first call that needs it (about 85 ms): git-objects.ts reads most blobs without
 * it, and an apply or render of a working tree reads no git at all. Its Node build is CommonJS
 * whether imported or required, so this is the instance commit-signature.ts imports too.
 */
const git = lazyModule<typeof import('isomorphic-git')>('isomorphic-git');

/** Object reads shared by every source of one repo: packfile indexes, trees and blobs by id. */
export interface GitReader {
  dir: string;
  /** Passed to every call so that isomorphic-git does not look for it each time. */
  gitdir: string;
  cache: object;
  trees: Map<string, Promise<Map<string, TreeEntry>>>;
  blobs: Map<string, Promise<string>>;
  /** Blobs read with native zlib from packs and loose files (git-objects.ts). */
  objects: ObjectReader;
}

interface TreeEntry {
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
  mode: string;
}

export function openGit(dir: string): GitReader {
  const gitdir = join(dir, '.git');
  return { dir, gitdir, cache: {}, trees: new Map(), blobs: new Map(), objects: objectReader(gitdir) };
}

/** Is `dir` the top of a git repository? */
export async function isGitRepo(dir: string): Promise<boolean> {
  return git().findRoot({ fs, filepath: dir }).then((root) => root === dir || fs.realpathSync(root) === fs.realpathSync(dir), () => false);
}

/**
 * A commit id for `rev`: a full or abbreviated id, a branch, tag or remote ref, HEAD, each
 * optionally followed by ~N or ^ (first parents).
 */
export async function resolveRevision(r: GitReader, rev: string): Promise<string> {
  const m = /^(.*?)((?:[~^]\d*)*)$/.exec(rev)!;
  let oid = await resolveBase(r, m[1] || 'HEAD', rev);
  for (const step of m[2].match(/[~^]\d*/g) ?? []) {
    const n = step.length > 1 ? Number(step.slice(1)) : 1;
    const count = step[0] === '~' ? n : 1;
    if (step[0] === '^' && n !== 1) throw new GitError(`'${rev}': only the first parent (^ or ^1) is supported`);
    for (let i = 0; i < count; i++) {
      const { commit } = await git().readCommit({ fs, dir: r.dir, gitdir: r.gitdir, oid, cache: r.cache });
      if (commit.parent.length === 0) throw new GitError(`'${rev}' goes past the first commit`);
      oid = commit.parent[0];
    }
  }
  return oid;
}

async function resolveBase(r: GitReader, name: string, rev: string): Promise<string> {
  const attempts = [name, `refs/remotes/${name}`, `refs/remotes/origin/${name}`];
  for (const ref of attempts) {
    const oid = await git().resolveRef({ fs, dir: r.dir, ref }).catch(() => null);
    if (oid) return peelToCommit(r, oid);
  }
  if (/^[0-9a-f]{4,40}$/.test(name)) {
    const oid = await git().expandOid({ fs, dir: r.dir, oid: name, cache: r.cache }).catch(() => null);
    if (oid) return peelToCommit(r, oid);
  }
  // Say what is missing: with no repository at all, every revision is "unknown".
  if (!fs.existsSync(r.gitdir)) {
    throw new GitError(`${r.dir} is not a git repository: it has no .git`, { hint: fs.existsSync(r.dir) ? `give the folder that holds the config repo's .git, or run git init there and commit` : `${r.dir} does not exist` });
  }
  throw new GitError(`unknown revision '${rev}' in ${r.dir}`, { hint: 'name a branch, tag or commit that exists (git log --oneline shows them)' });
}

/** Annotated tags point at a tag object; follow them to the commit. */
async function peelToCommit(r: GitReader, oid: string): Promise<string> {
  const obj = await git().readObject({ fs, dir: r.dir, gitdir: r.gitdir, oid, cache: r.cache });
  if (obj.type === 'tag') return peelToCommit(r, (obj.object as { object: string }).object);
  if (obj.type !== 'commit') throw new GitError(`${oid} is a ${obj.type}, not a commit`);
  return oid;
}

export async function findMergeBase(r: GitReader, a: string, b: string): Promise<string | null> {
  const [base] = await git().findMergeBase({ fs, dir: r.dir, oids: [a, b], cache: r.cache });
  return (base as string | undefined) ?? null;
}

/** A tree's entries by name (memoized by tree id). */
function readTreeAt(r: GitReader, treeOid: string): Promise<Map<string, TreeEntry>> {
  let entries = r.trees.get(treeOid);
  if (!entries) {
    entries = git()
      .readTree({ fs, dir: r.dir, gitdir: r.gitdir, oid: treeOid, cache: r.cache })
      .then((t) => new Map((t.tree as TreeEntry[]).map((e) => [e.path, e])))
      .catch((e: unknown) => {
        // isomorphic-git refuses a tree naming a file with a backslash, '..' or '.git' (what a
        // checkout on Windows or git's own fsck would refuse too): a problem of the repo, not a bug.
        if ((e as { code?: unknown }).code !== 'UnsafeFilepathError') throw e;
        throw new GitError(`a commit of ${r.dir} holds a file name skyrec will not read: ${(e as Error).message}`, { hint: 'rename the file (no backslash, no .. or .git part) and commit' });
      });
    r.trees.set(treeOid, entries);
  }
  return entries;
}

/** A blob's bytes: through git-objects.ts, or isomorphic-git for what that does not read. */
async function readBlobBytes(r: GitReader, oid: string): Promise<Buffer> {
  const object = r.objects.read(oid);
  if (object?.type === 'blob') return object.data;
  const { blob } = await git().readBlob({ fs, dir: r.dir, gitdir: r.gitdir, oid, cache: r.cache });
  return Buffer.from(blob);
}

function readBlobText(r: GitReader, oid: string): Promise<string> {
  let text = r.blobs.get(oid);
  if (!text) {
    text = readBlobBytes(r, oid).then((bytes) => bytes.toString('utf8'));
    r.blobs.set(oid, text);
  }
  return text;
}

/** A ConfigSource reading a commit's tree. Symlinks read as absent: they could point anywhere. */
export async function commitSource(r: GitReader, commit: string): Promise<ConfigSource> {
  const { commit: c } = await git().readCommit({ fs, dir: r.dir, gitdir: r.gitdir, oid: commit, cache: r.cache });
  const root = c.tree;

  async function lookup(path: string): Promise<TreeEntry | { type: 'tree'; oid: string } | null> {
    if (path === '' || path === '.') return { type: 'tree', oid: root };
    if (path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
    let tree = root;
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const entry = (await readTreeAt(r, tree)).get(parts[i]);
      if (!entry || entry.mode === '120000') return null;
      if (i === parts.length - 1) return entry;
      if (entry.type !== 'tree') return null;
      tree = entry.oid;
    }
    return null;
  }

  return {
    async readFile(path) {
      const e = await lookup(path);
      return e?.type === 'blob' ? readBlobText(r, e.oid) : null;
    },
    async fileSize(path) {
      const e = await lookup(path);
      return e?.type === 'blob' ? Buffer.byteLength(await readBlobText(r, e.oid)) : null;
    },
    async listDir(path) {
      const e = await lookup(path);
      return e?.type === 'tree' ? [...(await readTreeAt(r, e.oid)).keys()] : null;
    },
    async stat(path) {
      const e = await lookup(path);
      return e?.type === 'blob' ? 'file' : e?.type === 'tree' ? 'dir' : null;
    },
    async blobId(path) {
      const e = await lookup(path);
      return e?.type === 'blob' ? e.oid : null;
    },
  };
}

/** Reads whole folders of a commit (app sources for the local driver). Symlinks are skipped. */
export async function commitFiles(r: GitReader, commit: string): Promise<{ listFiles(dir: string): Promise<string[]>; readBytes(path: string): Promise<Buffer> }> {
  const { commit: c } = await git().readCommit({ fs, dir: r.dir, gitdir: r.gitdir, oid: commit, cache: r.cache });
  const files = new Map<string, string>();
  const walk = async (tree: string, prefix: string): Promise<void> => {
    for (const e of (await readTreeAt(r, tree)).values()) {
      const path = prefix ? `${prefix}/${e.path}` : e.path;
      if (e.type === 'tree') await walk(e.oid, path);
      else if (e.type === 'blob' && e.mode !== '120000') files.set(path, e.oid);
    }
  };
  await walk(c.tree, '');
  return {
    async listFiles(dir) {
      return [...files.keys()].filter((p) => p.startsWith(`${dir}/`)).sort();
    },
    async readBytes(path) {
      const oid = files.get(path);
      if (!oid) throw new GitError(`${path} is not a file of ${commit.slice(0, 7)}`);
      return readBlobBytes(r, oid);
    },
  };
}

export { redactUrl };

export interface RemoteOptions {
  /** An http(s) URL of the config repo. */
  url: string;
  branch: string;
  /** Where the local copy lives (a repository with no working tree checked out). */
  dir: string;
  /** Sent as HTTP basic auth (user `x-access-token`, the token as password, as GitHub and GitLab accept). */
  token?: string;
}

/**
 * Brings `dir` up to date with `branch` of the remote over smart HTTP(S) (clone the first time,
 * fetch after) and returns the branch's commit. The token never appears in errors or logs.
 */
export async function syncRemote(opts: RemoteOptions): Promise<string> {
  const { default: http } = await import('isomorphic-git/http/node');
  const onAuth = () => (opts.token === undefined ? { cancel: true } : { username: 'x-access-token', password: opts.token });
  const common = { fs, http, dir: opts.dir, url: opts.url, ref: opts.branch, singleBranch: true, onAuth, onAuthFailure: () => ({ cancel: true }) };
  const cloning = !(await isGitRepo(opts.dir));
  try {
    if (cloning) await git().clone({ ...common, noCheckout: true, noTags: true });
    else await git().fetch({ ...common, remote: 'origin', tags: false });
    return await git().resolveRef({ fs, dir: opts.dir, ref: `refs/remotes/origin/${opts.branch}` });
  } catch (err) {
    // A clone that failed half-way must not pass for a repository next time.
    if (cloning) fs.rmSync(opts.dir, { recursive: true, force: true });
    const e = err as Error & { code?: string; data?: { statusCode?: number } };
    const status = e.data?.statusCode;
    const refused = status === 401 || status === 403 || e.code === 'UserCanceledError';
    const why = refused
      ? 'the remote refused the credentials (give a token with read access, in a file or the environment)'
      : e.code === 'NotFoundError' ? `it has no branch '${opts.branch}'` : e.message.replaceAll(opts.token ?? '\0', '***').replaceAll(opts.url, redactUrl(opts.url));
    throw new GitError(`cannot fetch ${opts.branch} from ${redactUrl(opts.url)}: ${why}`, {
      hint: refused ? undefined : 'check the URL and the branch, and that this machine reaches the remote',
      cause: err,
    });
  }
}
