// Placements, and the render input digest of each node, by everything that decides them: the
// revision (a commit id, or a working tree's key: the config it validates to), the placement it
// keeps (previous instances and data nodes), the flake inputs, and the code (the compile cache's
// fingerprint). Placing 2,000 apps and digesting 200 nodes' inputs costs a plan more than
// reading a validated revision back; a revision placed before against the same previous
// placement is not placed again. Only successful placements are kept.
import { createHash } from 'node:crypto';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { keepNewest, readV8File, writeV8File } from './v8-file.js';
import type { AppData, Instance, Placement } from '../../schema/model.js';
import type { FlakeInputs } from '../../generators/render-types.js';
import { nodeInputs } from '../../generators/render-node.js';
import { placeFleet, type CheckedFleet } from './pipeline.js';

const FORMAT = 'skyrec-placed-1';
/** Entries kept, the newest: a plan's two sides, a render, a few revisions back. */
const KEEP = 8;

export interface Placed {
  placement: Placement;
  /** Each node's render input digest (generators/render-inputs.ts). */
  inputs: Map<string, string>;
}

export interface PlacedMemo {
  get(key: string): Placed | undefined;
  set(key: string, placed: Placed): void;
  save(): void;
}

/** The key of one placement: what it is placed from. */
export function placedKey(revision: string, previous: Instance[] | undefined, previousData: Record<string, AppData> | undefined, flake: FlakeInputs | undefined): string {
  return createHash('sha256').update(JSON.stringify([revision, previous ?? null, previousData ?? null, flake ?? null])).digest('hex');
}

export function openPlacedMemo(dir: string, fingerprint: string, keep = KEEP): PlacedMemo {
  const tag = `${FORMAT} ${fingerprint}`;
  const added = new Map<string, Placed>();
  return {
    get(key) {
      const hit = added.get(key) ?? readV8File<Placed>(join(dir, `${key}.v8`), tag);
      if (!hit) return undefined;
      try {
        const now = new Date();
        utimesSync(join(dir, `${key}.v8`), now, now); // used: kept longest
      } catch {
        // only added in this process, or removed meanwhile
      }
      return hit;
    },
    set: (key, placed) => void added.set(key, placed),
    save() {
      if (added.size === 0) return;
      try {
        for (const [key, placed] of added) writeV8File(join(dir, `${key}.v8`), tag, placed);
        keepNewest(dir, keep);
      } catch {
        // a full disk must not fail a command: the next run places again
      }
    },
  };
}

/**
 * Places a validated revision and digests its nodes' render inputs, or finds both in the memo.
 * `revision`: the commit id or working tree key the memo knows the revision by (null: no memo).
 */
export function placeAndDigest(
  checked: CheckedFleet,
  opts: { revision: string | null | undefined; previous?: Instance[]; previousData?: Record<string, AppData>; flake?: FlakeInputs; where?: string; memo?: PlacedMemo },
): Placed {
  const key = opts.revision && opts.memo ? placedKey(opts.revision, opts.previous, opts.previousData, opts.flake) : null;
  const hit = key ? opts.memo!.get(key) : undefined;
  if (hit) return hit;
  const placement = placeFleet(checked, opts.previous, opts.where, opts.previousData);
  // The revision is only in manifest.json, which the input digests leave out.
  const placed = { placement, inputs: nodeInputs(checked.config, placement, { revision: null, flake: opts.flake }) };
  if (key) opts.memo!.set(key, placed);
  return placed;
}
