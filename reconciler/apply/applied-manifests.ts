// The manifests of what each node last applied: the placement the next apply keeps. They sit in
// each node's applied file next to its run spec, and an ingress node's run spec holds every route
// of the fleet; so the reconciler keeps the manifests in its compile cache, each by the identity
// of the file it came from (inode, size, mtime: applied.ts replaces a file, never edits it), and
// reads again only the files that changed since.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readV8File, writeV8File } from '../pipeline/v8-file.js';
import type { Manifest } from '../../generators/render-types.js';
import type { AppliedStore } from './rollout-model.js';

const FORMAT = 'skyrec-applied-manifests-1';

type Known = Map<string, { id: string; manifest: Manifest }>;

/** As applied.all().map((a) => a.manifest), reading only the files changed since the last call that kept `memoDir`. */
export function readAppliedManifests(stateDir: string, applied: AppliedStore, memoDir: string): Manifest[] {
  const dir = join(stateDir, 'applied');
  const memo = join(memoDir, 'applied-manifests.v8');
  const known = readV8File<Known>(memo, FORMAT) ?? new Map(); // none: read every file
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort().map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
  const now: Known = new Map();
  let reread = false;
  for (const node of names) {
    let id: string;
    try {
      const st = statSync(join(dir, `${node}.json`));
      id = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      continue;
    }
    const hit = known.get(node);
    if (hit?.id === id) {
      now.set(node, hit);
      continue;
    }
    const manifest = applied.read(node)?.manifest;
    reread = true;
    if (manifest) now.set(node, { id, manifest });
  }
  if (reread || now.size !== known.size) {
    try {
      writeV8File(memo, FORMAT, now);
    } catch {
      // a full disk: the next apply reads the files again
    }
  }
  return [...now.values()].map((k) => k.manifest);
}
