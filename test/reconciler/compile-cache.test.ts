// The compile cache's files in the state directory: what another skyrec wrote is not used, what a
// cycle no longer needs is dropped (the directory stays the size of a few fleets), and a file
// lost or damaged is compiled again, never an error that repeats.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openRenderStore } from '../../reconciler/pipeline/render-store.js';
import { openParseCache } from '../../reconciler/pipeline/parse-cache-store.js';
import type { RenderedNode } from '../../generators/render-types.js';
import { makeTempDir } from '../helpers/tools.js';

const tmp = makeTempDir('skyrec-compile-cache-');
afterEach(() => rmSync(join(tmp.dir, 'store'), { recursive: true, force: true }));

function rendered(node: string, inputs: string, revision: string): RenderedNode {
  const manifest = { node, revision, hash: `hash-of-${inputs}`, system: 'x86_64-linux', ingress: false, apps: {} };
  return { node, inputs, manifest, files: { 'default.nix': `{ ... }: { } # ${inputs}\n`, 'manifest.json': JSON.stringify(manifest, null, 2) + '\n' } };
}

/** One cycle: open the store, render (set) the given nodes, read the others, save. */
function cycle(fingerprint: string, set: RenderedNode[], read: string[] = []): (RenderedNode | undefined)[] {
  const store = openRenderStore(join(tmp.dir, 'store'), fingerprint);
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

  it('drops nodes no cycle used in the last three, with their files', () => {
    cycle('code-1', [rendered('web-1', 'old', 'rev-1')]);
    for (let i = 0; i < 3; i++) cycle('code-1', [rendered('web-1', `new-${i}`, 'rev-1')]);
    expect(cycle('code-1', [], ['old', 'new-2'])).toEqual([undefined, expect.objectContaining({ inputs: 'new-2' })]);
    expect(readdirSync(join(tmp.dir, 'store')).sort()).toEqual(['index.v8', 'new-1.v8', 'new-2.v8']);
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
