// The reconciler's compile cache, in its state directory: parsed specs by blob id, validated
// fleets by commit id, and rendered nodes by input digest. Each cycle compiles in a process of
// its own (daemon/isolate.ts), so what one cycle compiled reaches the next through these files;
// a new head then costs what changed in it, not the size of the fleet. Everything is keyed by
// content (and by the code that compiles: code-fingerprint.ts), so a hit is what compiling
// again would give, byte for byte; a missing or damaged cache is simply rebuilt.
import { join } from 'node:path';
import type { ParseCache } from '../../schema/load-yaml.js';
import { openParseCache } from './parse-cache-store.js';
import { openCheckedMemo, type CheckedMemo } from './checked-memo.js';
import { openRenderStore, type RenderStore } from './render-store.js';
import { codeFingerprint } from './code-fingerprint.js';
import { openPlacedMemo, type PlacedMemo } from './placed-memo.js';

export interface CompileCache {
  /** Where it is: for other caches of the reconciler's compile (reconciler/apply/applied-manifests.ts). */
  dir: string;
  /** The compile code's digest (code-fingerprint.ts), for other caches of what it compiled. */
  fingerprint: string;
  parse: ParseCache;
  checked: CheckedMemo;
  rendered: RenderStore;
  /** Placements and node input digests (placed-memo.ts). */
  placed: PlacedMemo;
  /** Writes what this process added; never throws. */
  save(): void;
}

export const compileCacheDir = (stateDir: string): string => join(stateDir, 'cache');

/** How much a compile cache keeps; unset: what one reconciler's cycles need (each store's default). */
export interface CompileCacheLimits {
  /** Validated revisions (commits, working trees), the most recently used. */
  revisions?: number;
  /** Placements, the most recently used. */
  placements?: number;
  /** Rendered nodes' files, the most recently used, instead of those of the last few cycles. */
  renderedBytes?: number;
}

/**
 * The limits of the cache `render` and `plan` share across every repo they are run on: a few plans
 * (each two revisions and their nodes) must not push out what a render cached. 2,000 apps on
 * 200 nodes: a revision 1.6 MB, a placement 0.4 MB, a node's files ~125 kB.
 */
export const COMMAND_CACHE_LIMITS: CompileCacheLimits = { revisions: 16, placements: 32, renderedBytes: 128 * 1024 * 1024 };

export function openCompileCache(dir: string, limits: CompileCacheLimits = {}): CompileCache {
  const fingerprint = codeFingerprint();
  const parse = openParseCache(dir, { keepUsed: true });
  const checked = openCheckedMemo(join(dir, 'checked'), fingerprint, parse.cache, limits.revisions);
  const rendered = openRenderStore(join(dir, 'rendered'), fingerprint, { maxBytes: limits.renderedBytes });
  const placed = openPlacedMemo(join(dir, 'placed'), fingerprint, limits.placements);
  return {
    dir,
    fingerprint,
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
