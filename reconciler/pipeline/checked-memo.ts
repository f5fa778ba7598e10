// Validated fleets by commit id, kept on disk across the reconciler's cycles: a commit names its
// whole tree, so the config it validates to is known once it has been validated (by the same
// code: the compile cache's fingerprint). A cycle's plan compares the revision applied before,
// which the cycle before validated, with the head the cycle's apply has just validated: neither
// is validated again. Only valid revisions are kept; invalid ones are checked again to report.
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { keepNewest, readV8File, writeV8File } from './v8-file.js';
import { blobId, parseYaml, type ParseCache, type YamlFile } from '../../schema/load-yaml.js';
import type { LoadedRepo } from '../../schema/validate.js';
import { backupWarnings } from '../../schema/backup-spec.js';
import { sortProblems } from '../../common/problem.js';
import type { AppSpec, Config, FleetSpec, Problem } from '../../schema/model.js';
import { digestApp, rememberAppDigest } from '../../generators/render-inputs.js';

/** A config repo loaded and validated: what the memo keeps per commit. */
export interface CheckedFleet {
  config: Config;
  loaded: LoadedRepo;
  warnings?: Problem[];
}

const FORMAT = 'skyrec-checked-2';
/** Revisions kept: the head, the one applied before it, and a few to go back to. */
const KEEP = 4;

/** What is kept of a checked revision: its config, and the blobs its specs were parsed from. */
interface Stored {
  config: CheckedFleet['config'];
  /** Each app's render input digest (generators/render-inputs.ts), in config.apps order. */
  digests: string[];
  fleet: { file: string; blob: string } | null;
  apps: { file: string; blob: string }[];
  appFiles: string[];
}

export interface CheckedMemo {
  get(commit: string): CheckedFleet | undefined;
  set(commit: string, checked: CheckedFleet): void;
  save(): void;
}

const storedOf = (c: CheckedFleet): Stored => ({
  config: c.config,
  digests: c.config.apps.map(digestApp),
  fleet: c.loaded.fleet && { file: c.loaded.fleet.file, blob: blobId(c.loaded.fleet.text) },
  apps: c.loaded.apps.map((y) => ({ file: y.file, blob: blobId(y.text) })),
  appFiles: c.loaded.appFiles,
});

/**
 * The specs as loaded, from the parse cache, for a placement problem to point at its line and
 * column; made only when one does. A spec no longer in the parse cache is left out (its
 * problems then point at the file's first line).
 */
function loadedOf(s: Stored, parse: ParseCache): LoadedRepo {
  const yaml = (f: { file: string; blob: string }): YamlFile | null => {
    const hit = parse.get(f.blob);
    return hit ? parseYaml(f.file, hit.text, parse).yaml : null;
  };
  return { fleet: s.fleet && yaml(s.fleet), apps: s.apps.flatMap((a) => yaml(a) ?? []), appFiles: s.appFiles, problems: [] };
}

function checkedOf(s: Stored, parse: ParseCache): CheckedFleet {
  s.config.apps.forEach((app, i) => rememberAppDigest(app, s.digests[i]));
  let loaded: LoadedRepo | undefined;
  let warnings: Problem[] | undefined;
  return {
    config: s.config,
    get loaded() {
      return (loaded ??= loadedOf(s, parse));
    },
    // As validation makes them, from the specs as loaded: a kept revision is valid, so every app was checked.
    get warnings() {
      const fleet = this.loaded.fleet?.data as FleetSpec | undefined;
      return (warnings ??= sortProblems(this.loaded.apps.flatMap((y) => backupWarnings(y, y.data as AppSpec, fleet ?? null))));
    },
  };
}

/** One file per commit, read only when that commit is asked for; the `keep` used last are kept. */
export function openCheckedMemo(dir: string, fingerprint: string, parse: ParseCache, keep = KEEP): CheckedMemo {
  const fileOf = (commit: string) => join(dir, `${commit}.v8`);
  const inProcess = new Map<string, CheckedFleet>();
  const added = new Map<string, CheckedFleet>();
  const tag = `${FORMAT} ${fingerprint}`;
  const read = (commit: string): Stored | undefined => {
    const stored = readV8File<Stored>(fileOf(commit), tag);
    if (!stored) return undefined; // absent or unreadable: validated again
    const now = new Date();
    utimesSync(fileOf(commit), now, now); // used: kept longest
    return stored;
  };
  return {
    get(commit) {
      if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
      let checked = inProcess.get(commit);
      if (checked) return checked;
      const s = read(commit);
      if (!s) return undefined;
      inProcess.set(commit, (checked = checkedOf(s, parse)));
      return checked;
    },
    set(commit, checked) {
      inProcess.set(commit, checked);
      if (/^[0-9a-f]{40,64}$/.test(commit)) added.set(commit, checked);
    },
    save() {
      if (added.size === 0) return;
      try {
        for (const [commit, checked] of added) writeV8File(fileOf(commit), tag, storedOf(checked));
        keepNewest(dir, keep);
      } catch {
        // a full disk must not fail a cycle: the next one validates again
      }
    },
  };
}
