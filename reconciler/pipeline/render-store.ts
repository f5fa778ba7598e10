// Rendered nodes on disk by input digest (generators/render-inputs.ts), so that the reconciler's
// next cycle, which runs in a process of its own, renders only the nodes whose inputs changed.
// The index (each digest's node and manifest, all a rollout reads of a node it does not switch)
// is read at once; a node's files only when something reads them. The reconciler's store drops
// entries no cycle used in the last KEEP_CYCLES; the store of `render` and `plan`, shared by both
// and by every repo the user runs them on, drops the least recently used entries beyond a size
// instead (`maxBytes`): three plans of one repo must not push out what a render of another
// cached. A run that renders nothing new and uses only entries the last run used writes nothing.
// Nothing here is secret: specs hold none.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readV8File, writeV8File } from './v8-file.js';
import type { Manifest, RenderCache, RenderedNode } from '../../generators/render-types.js';
import { digestFiles } from '../../generators/render-node.js';

const FORMAT = 'skyrec-render-store-3';
/** Cycles an unused entry is kept: a head going back to the revision before finds its nodes. */
const KEEP_CYCLES = 3;

interface Entry {
  node: string;
  manifest: Manifest;
  /** sha256 of each file but manifest.json: a plan without diffs compares these, not the files. */
  digests: Record<string, string>;
  /** The cycle (save) that last used it. */
  seen: number;
  /** Its file's size. */
  bytes: number;
}

interface Index {
  cycle: number;
  entries: Map<string, Entry>;
}

export interface RenderStore {
  /**
   * The render cache of one revision. A hit carries that revision in its manifest (the only
   * thing of a node's render that its input digest leaves out), byte for byte as rendering it would.
   */
  forRevision(revision: string | null): RenderCache;
  /** Writes the nodes rendered since open, and drops entries unused for KEEP_CYCLES cycles. */
  save(): void;
}

const fileOf = (dir: string, inputs: string) => join(dir, `${inputs}.v8`);

/** A rendered node as rendering `revision` would have made it, from a node rendered for another. */
function withRevision(node: string, inputs: string, stored: Manifest, digests: Record<string, string>, revision: string | null, readFiles: () => Record<string, string>): RenderedNode {
  const manifest: Manifest = { ...stored, revision };
  const manifestJson = () => JSON.stringify(manifest, null, 2) + '\n';
  let files: Record<string, string> | undefined;
  return {
    node,
    inputs,
    manifest,
    get files() {
      return (files ??= { ...readFiles(), 'manifest.json': manifestJson() });
    },
    get fileDigests() {
      return sortKeys({ ...digests, ...digestFiles({ 'manifest.json': manifestJson() }) });
    },
  };
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]));
}

function withoutManifest(files: Record<string, string>): Record<string, string> {
  const { 'manifest.json': _, ...rest } = files;
  return rest;
}

/** Drops what the store keeps no longer: by age in cycles, or (maxBytes) the least recently used beyond that size. */
function dropUnused(index: Index, cycle: number, maxBytes: number | undefined): void {
  if (maxBytes === undefined) {
    for (const [inputs, entry] of index.entries) if (entry.seen <= cycle - KEEP_CYCLES) index.entries.delete(inputs);
    return;
  }
  let total = 0;
  for (const entry of index.entries.values()) total += entry.bytes;
  // What this run used is kept whatever its size: a plan reads it back before it ends.
  const byAge = [...index.entries].filter(([, e]) => e.seen < cycle).sort(([, a], [, b]) => a.seen - b.seen);
  for (const [inputs, entry] of byAge) {
    if (total <= maxBytes) break;
    index.entries.delete(inputs);
    total -= entry.bytes;
  }
}

/**
 * @param fingerprint the code that renders (code-fingerprint.ts): another one finds the store empty
 * @param opts.maxBytes keep the least recently used entries up to this size of files, instead of by age
 */
export function openRenderStore(dir: string, fingerprint: string, opts: { maxBytes?: number } = {}): RenderStore {
  const tag = `${FORMAT} ${fingerprint}`;
  // Read at open, not when first asked for: read in the middle of a plan's diffs, it raised the
  // plan's peak RSS by ~12 MB (2,000 apps, --diff: 138-142 -> 150-153 MB).
  const index = readV8File<Index>(join(dir, 'index.v8'), tag) ?? { cycle: 0, entries: new Map() };
  // Entries read by this run: marked as used at save.
  const used = new Set<string>();
  // Nodes rendered since open: their files are on disk already (null), or in memory when the disk refused them.
  const fresh = new Map<string, { node: string; manifest: Manifest; digests: Record<string, string>; files: Record<string, string> | null; bytes: number }>();
  const readStored = (inputs: string, node: string): Record<string, string> => {
    const files = readV8File<Record<string, string>>(fileOf(dir, inputs), tag);
    if (!files) {
      // Damaged under us: this cycle cannot go on with the node, the next one renders everything again.
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`the compile cache's rendered files of ${node} could not be read (removed ${dir}; the next cycle renders again)`);
    }
    return files;
  };
  return {
    forRevision: (revision) => ({
      get(inputs) {
        const made = fresh.get(inputs);
        if (made) return withRevision(made.node, inputs, made.manifest, made.digests, revision, () => made.files ?? readStored(inputs, made.node));
        const entry = index.entries.get(inputs);
        // A file removed by hand is a miss, never a node without files.
        if (!entry || !existsSync(fileOf(dir, inputs))) return undefined;
        used.add(inputs);
        return withRevision(entry.node, inputs, entry.manifest, entry.digests, revision, () => readStored(inputs, entry.node));
      },
      set(inputs, node) {
        // Written at once, not kept in memory: a render or a plan holds one node's files at a time.
        let files: Record<string, string> | null = null;
        let bytes = 0;
        try {
          bytes = writeV8File(fileOf(dir, inputs), tag, node.files);
        } catch {
          files = node.files; // written again at save, or not at all
        }
        fresh.set(inputs, { node: node.node, manifest: node.manifest, digests: node.fileDigests ? withoutManifest(node.fileDigests) : digestFiles(withoutManifest(node.files)), files, bytes });
      },
    }),
    save() {
      if (fresh.size === 0 && used.size === 0) return;
      const cycle = index.cycle + 1;
      // Nothing new, and all it used already marked by the last run: the index stays as it is (a warm run writes nothing).
      if (fresh.size === 0 && [...used].every((inputs) => index.entries.get(inputs)?.seen === index.cycle)) return;
      try {
        for (const inputs of used) {
          const entry = index.entries.get(inputs);
          if (entry) entry.seen = cycle;
        }
        for (const [inputs, made] of fresh) {
          const bytes = made.files ? writeV8File(fileOf(dir, inputs), tag, made.files) : made.bytes;
          index.entries.set(inputs, { node: made.node, manifest: made.manifest, digests: made.digests, seen: cycle, bytes });
        }
        dropUnused(index, cycle, opts.maxBytes);
        writeV8File(join(dir, 'index.v8'), tag, { ...index, cycle });
        // Files no entry names: dropped entries, and leftovers of a process killed mid-write.
        for (const f of readdirSync(dir)) if (f !== 'index.v8' && !index.entries.has(f.slice(0, -'.v8'.length))) rmSync(join(dir, f), { force: true });
      } catch {
        // A full or read-only disk must not fail a cycle: the next one renders again.
      }
    },
  };
}
