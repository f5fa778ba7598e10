// Writes rendered nodes to an output directory, one folder per node, and reads back the
// placement a previous render left there (its manifests), so that ports stay put.
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { AddonName, AppData, Instance } from '../../schema/model.js';
import type { Manifest, RenderedNode } from '../../generators/render-types.js';
import { digestFiles } from '../../generators/render-node.js';
import { readNodeFolder, sameFiles, type NodeFolder } from './out-record.js';

/** The manifests found in DIR/<node>/manifest.json. */
export async function readManifests(dir: string): Promise<Manifest[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const manifests: Manifest[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const text = await readFile(join(dir, e.name, 'manifest.json'), 'utf8').catch(() => null);
    if (text) manifests.push(JSON.parse(text) as Manifest);
  }
  return manifests;
}

/** The data nodes recorded in a set of manifests: where each app's addons keep their data. */
export function dataOf(manifests: Manifest[]): Record<string, AppData> {
  const data: Record<string, AppData> = {};
  for (const m of manifests) {
    for (const [app, a] of Object.entries(m.apps)) {
      for (const [addon, d] of Object.entries(a.data ?? {})) (data[app] ??= {})[addon as AddonName] = { node: m.node, port: d.port, ...(d.version === undefined ? {} : { version: d.version }) };
    }
  }
  return data;
}

/** The instances recorded in a set of manifests. */
export function instancesOf(manifests: Manifest[]): Instance[] {
  return manifests.flatMap((m) =>
    Object.entries(m.apps).flatMap(([app, a]) =>
      Object.entries(a.processes).flatMap(([process, list]) => list.map((i) => ({ app, process, index: i.instance, node: m.node, port: i.port }))),
    ),
  );
}

export interface WriteResult {
  node: string;
  hash: string;
  changed: boolean;
}

export interface WriteOptions {
  /**
   * Compare the files of each node whose manifest hash is unchanged with what was rendered, and
   * rewrite the node when one differs (edited by hand). `intact`: node folders known unchanged
   * since they were compared last (out-record.ts), not read again.
   */
  verify?: { intact: Map<string, NodeFolder> };
}

/**
 * Writes every node's files. A node whose manifest hash is unchanged is left as it is (with
 * `verify`, when its files are what was rendered); a changed node is written to a temporary
 * folder and swapped in, so no node folder is ever half-written. Folders of nodes no longer in
 * the fleet (those holding a skyrec manifest) are removed. `folders`: with `verify`, the node
 * folders left as they were, as compared.
 */
export async function writeRendered(dir: string, nodes: Iterable<RenderedNode>, manifests?: Manifest[], opts: WriteOptions = {}): Promise<{ written: WriteResult[]; removed: string[]; folders: NodeFolder[] }> {
  await mkdir(dir, { recursive: true });
  // `manifests`: what the caller read from dir already (readManifests), not read again.
  const before = new Map((manifests ?? (await readManifests(dir))).map((m) => [m.node, m.hash]));
  const written: WriteResult[] = [];
  const folders: NodeFolder[] = [];
  // Nodes may be rendered as they are iterated (render-node.ts renderNodes): each is dropped once written.
  for (const n of nodes) {
    let changed = before.get(n.node) !== n.manifest.hash;
    if (!changed && opts.verify) {
      const folder = opts.verify.intact.get(n.node) ?? readNodeFolder(dir, n.node, n.manifest.hash);
      changed = folder === null || !sameFiles(folder.digests, n.fileDigests ?? digestFiles(n.files));
      if (!changed) folders.push(folder!);
    }
    if (changed) {
      swapNodeDir(dir, n);
      // A turn of the event loop: V8 finishes its concurrent collections there (a render that
      // never yields grew ~15 MB more RSS, now and then, on a loaded machine).
      await new Promise((resolve) => setImmediate(resolve));
    }
    written.push({ node: n.node, hash: n.manifest.hash, changed });
  }
  const keep = new Set(written.map((w) => w.node));
  const removed = [...before.keys()].filter((name) => !keep.has(name)).sort();
  for (const name of removed) await rm(join(dir, name), { recursive: true, force: true });
  return { written, removed, folders };
}

function swapNodeDir(dir: string, node: RenderedNode): void {
  const target = join(dir, node.node);
  const fresh = join(dir, `.${node.node}.new-${process.pid}`);
  const stale = join(dir, `.${node.node}.old-${process.pid}`);
  // Synchronous throughout: thousands of small files go several times faster than through
  // fs/promises, and a render waited ~0.5 s for the thread pool's renames and removals.
  // Nothing is looked up that is not there (a cold render swapped 200 folders in ~40 ms less):
  // a fresh folder is left only by a process of the same pid that died, and a stale one only
  // when the node had a folder.
  if (!makeDir(fresh)) {
    rmSync(fresh, { recursive: true, force: true });
    mkdirSync(fresh);
  }
  const dirs = new Set(Object.keys(node.files).map((path) => dirname(join(fresh, path))));
  dirs.delete(fresh);
  for (const d of dirs) mkdirSync(d, { recursive: true });
  for (const [path, content] of Object.entries(node.files)) writeFileSync(join(fresh, path), content);
  let hadFolder = true;
  try {
    renameSync(target, stale);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    hadFolder = false;
  }
  renameSync(fresh, target);
  if (hadFolder) rmSync(stale, { recursive: true, force: true });
}

/** Makes DIR; false when it is there already. */
function makeDir(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}
