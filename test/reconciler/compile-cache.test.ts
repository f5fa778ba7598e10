// The compile cache's files in the state directory: what another skyrec wrote is not used, what a
// cycle no longer needs is dropped (the directory stays the size of a few fleets), and a file
// lost or damaged is compiled again, never an error that repeats.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openRenderStore } from '../../reconciler/pipeline/render-store.js';
import { openParseCache } from '../../reconciler/pipeline/parse-cache-store.js';
import { keepNewest } from '../../reconciler/pipeline/v8-file.js';
import type { RenderedNode } from '../../generators/render-types.js';
import { makeTempDir } from '../helpers/tools.js';

const tmp = makeTempDir('skyrec-compile-cache-');
afterEach(() => rmSync(join(tmp.dir, 'store'), { recursive: true, force: true }));

function rendered(node: string, inputs: string, revision: string): RenderedNode {
  const manifest = { node, revision, hash: `hash-of-${inputs}`, system: 'x86_64-linux', ingress: false, apps: {} };
  return { node, inputs, manifest, files: { 'default.nix': `{ ... }: { } # ${inputs}\n`, 'manifest.json': JSON.stringify(manifest, null, 2) + '\n' } };
}

/** One cycle: open the store, render (set) the given nodes, read the others, save. */
function cycle(fingerprint: string, set: RenderedNode[], read: string[] = [], opts: { maxBytes?: number } = {}): (RenderedNode | undefined)[] {
  const store = openRenderStore(join(tmp.dir, 'store'), fingerprint, opts);
  const cache = store.forRevision('rev-2');
  for (const n of set) cache.set(n.inputs, n);
  const found = read.map((d) => cache.get(d));
  store.save();
  return found;
}

describe('the render store', () => {
  it('gives a node rendered by an earlier cycle back with the revision asked for, as rendering it would', () => {
    cycle('code-1', [rendered('web-1', 'd1', 'rev-1')]);
    const [hit] = cycle('code-1', [], ['d1']);
    expect(hit?.manifest.revision).toBe('rev-2');
    expect(hit?.files).toEqual(rendered('web-1', 'd1', 'rev-2').files);
  });

  it('does not use what another version of skyrec rendered', () => {
    cycle('code-1', [rendered('web-1', 'd1', 'rev-1')]);
    expect(cycle('code-2', [], ['d1'])).toEqual([undefined]);
  });

  it('drops nodes no cycle used in the last three, with their files (a cycle that renders nothing new does not count)', () => {
    cycle('code-1', [rendered('web-1', 'old', 'rev-1')]);
    for (let i = 0; i < 3; i++) cycle('code-1', [rendered('web-1', `new-${i}`, 'rev-1')]);
    expect(cycle('code-1', [], ['old', 'new-2'])).toEqual([undefined, expect.objectContaining({ inputs: 'new-2' })]);
    expect(readdirSync(join(tmp.dir, 'store')).sort()).toEqual(['index.v8', 'new-0.v8', 'new-1.v8', 'new-2.v8']);
    cycle('code-1', [rendered('web-1', 'new-3', 'rev-1')]);
    expect(readdirSync(join(tmp.dir, 'store')).sort()).toEqual(['index.v8', 'new-1.v8', 'new-2.v8', 'new-3.v8']);
  });

  it('with a size limit (render and plan), keeps entries however many runs did not use them, and drops the least recently used beyond the size', () => {
    const bytes = { maxBytes: 0 };
    const sizeOf = (inputs: string) => statSync(join(tmp.dir, 'store', `${inputs}.v8`)).size;
    cycle('code-1', [rendered('web-1', 'render', 'rev-1')], [], bytes);
    // Three plans of other revisions, with room for everything: what the render cached stays.
    bytes.maxBytes = 1e9;
    for (let i = 0; i < 3; i++) cycle('code-1', [rendered('web-1', `plan-${i}`, 'rev-1')], [], bytes);
    cycle('code-1', [], ['plan-0'], bytes); // plan-0 used again: now more recent than plan-1
    expect(cycle('code-1', [], ['render'], bytes)).toEqual([expect.objectContaining({ inputs: 'render' })]);
    // Room for three entries of this size: plan-1 (least recently used) goes, then plan-2.
    bytes.maxBytes = 3 * sizeOf('plan-1');
    cycle('code-1', [rendered('web-1', 'new', 'rev-1')], [], bytes);
    expect(readdirSync(join(tmp.dir, 'store')).sort()).toEqual(['index.v8', 'new.v8', 'plan-0.v8', 'render.v8']);
    bytes.maxBytes = 0; // what a run uses is kept whatever the limit
    cycle('code-1', [rendered('web-1', 'newer', 'rev-1')], ['render'], bytes);
    expect(readdirSync(join(tmp.dir, 'store')).sort()).toEqual(['index.v8', 'newer.v8', 'render.v8']);
  });

  it('writes nothing for a run that renders nothing new and reads only what the run before it used', () => {
    cycle('code-1', [rendered('web-1', 'd1', 'rev-1'), rendered('web-2', 'd2', 'rev-1')]);
    const index = join(tmp.dir, 'store', 'index.v8');
    const written = () => statSync(index).mtimeMs;
    utimesSync(index, 1000, 1000);
    cycle('code-1', [], ['d1', 'd2']);
    expect(written()).toBe(1_000_000);
    cycle('code-1', [], ['d1']);
    expect(written()).toBe(1_000_000);
    cycle('code-1', [], ['d1', 'd3']); // d3 is not there
    expect(written()).toBe(1_000_000);
    // A run that rendered d3 used d1 only: reading d2 again marks it, so the index is written (its age in cycles is what keeps it).
    cycle('code-1', [rendered('web-3', 'd3', 'rev-1')], ['d1']);
    utimesSync(index, 1000, 1000);
    cycle('code-1', [], ['d2']);
    expect(written()).toBeGreaterThan(1_000_000);
  });

  it('renders again a node whose file was removed, and empties itself when a file is damaged', () => {
    cycle('code-1', [rendered('web-1', 'd1', 'rev-1'), rendered('web-2', 'd2', 'rev-1')]);
    rmSync(join(tmp.dir, 'store', 'd1.v8'));
    writeFileSync(join(tmp.dir, 'store', 'd2.v8'), 'not v8');
    const [gone, damaged] = cycle('code-1', [], ['d1', 'd2']);
    expect(gone).toBeUndefined();
    expect(() => damaged!.files).toThrow(/could not be read/);
    expect(existsSync(join(tmp.dir, 'store'))).toBe(false);
    expect(cycle('code-1', [], ['d2'])).toEqual([undefined]);
  });
});

describe('the parse cache of the reconciler', () => {
  it('keeps only the specs the last cycle used, so it stays the size of one fleet', () => {
    const dir = join(tmp.dir, 'parse');
    const first = openParseCache(dir, { keepUsed: true });
    for (const id of ['a', 'b', 'c']) first.cache.set(id, { text: id, data: id });
    first.save();
    const second = openParseCache(dir, { keepUsed: true });
    second.cache.get('a');
    second.cache.set('d', { text: 'd', data: 'd' });
    second.save();
    expect([...openParseCache(dir).cache.keys()].sort()).toEqual(['a', 'd']);
  });
});

describe('the folders of validated revisions, placements and --out records', () => {
  it('keep the files used last (a read refreshes a file time) and drop the others; an absent folder is no error', () => {
    const dir = join(tmp.dir, 'store');
    keepNewest(dir, 2);
    mkdirSync(dir, { recursive: true });
    ['a', 'b', 'c', 'd'].forEach((name, i) => {
      writeFileSync(join(dir, `${name}.v8`), name);
      utimesSync(join(dir, `${name}.v8`), 1000 + i, 1000 + i);
    });
    utimesSync(join(dir, 'a.v8'), 2000, 2000); // a used again: the newest
    keepNewest(dir, 2);
    expect(readdirSync(dir).sort()).toEqual(['a.v8', 'd.v8']);
  });
});
