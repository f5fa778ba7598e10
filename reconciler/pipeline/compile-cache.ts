// The reconciler's compile cache, in its state directory: parsed specs by blob id, validated
// fleets by commit id, and rendered nodes by input digest. Each cycle compiles in a process of
// its own (daemon/isolate.ts), so what one cycle compiled reaches the next through these files;
// a new head then costs what changed in it, not the size of the fleet. Everything is keyed by
// content (and by the code that compiles: code-fingerprint.ts), so a hit is what compiling
// again would give, byte for byte; a missing or damaged cache is simply rebuilt.
import { join } from 'node:path';
import type { ParseCache } from '../../schema/load-yaml.js';
import { cacheDir, openParseCache } from './parse-cache-store.js';
import { openCheckedMemo, type CheckedMemo } from './checked-memo.js';
import { openRenderStore, type RenderStore } from './render-store.js';
import { codeFingerprint } from './code-fingerprint.js';
import { openPlacedMemo, type PlacedMemo } from './placed-memo.js';

export interface CompileCache {
  /** Where it is: for other caches of the reconciler's compile (reconciler/apply/applied-manifests.ts). */
  dir: string;
  parse: ParseCache;
  checked: CheckedMemo;
  rendered: RenderStore;
  /** Placements and node input digests (placed-memo.ts). */
  placed: PlacedMemo;
  /** Writes what this process added; never throws. */
  save(): void;
}

export const compileCacheDir = (stateDir: string): string => join(stateDir, 'cache');

/**
 * The compile cache of `render` and `plan`: beside their parse cache in the user's cache folder,
 * not in a reconciler's state directory, whose cache keeps only what its own cycles use.
 */
export const commandCompileCacheDir = (env: NodeJS.ProcessEnv): string => join(cacheDir(env), 'compile');

export function openCompileCache(dir: string): CompileCache {
  const fingerprint = codeFingerprint();
  const parse = openParseCache(dir, { keepUsed: true });
  const checked = openCheckedMemo(join(dir, 'checked'), fingerprint, parse.cache);
  const rendered = openRenderStore(join(dir, 'rendered'), fingerprint);
  const placed = openPlacedMemo(join(dir, 'placed'), fingerprint);
  return {
    dir,
    parse: parse.cache,
    checked,
    rendered,
    placed,
    save() {
      parse.save();
      checked.save();
      rendered.save();
      placed.save();
    },
  };
}
