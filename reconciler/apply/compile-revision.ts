// What apply compiles before it touches a node: a revision validated, placed where the nodes'
// applied manifests keep its instances, and rendered per node. With the reconciler's compile
// cache it reuses what earlier cycles compiled; the result is the same either way, byte for byte
// (test/reconciler/incremental-compile.test.ts holds it to that).
import type { ParseCache } from '../../schema/load-yaml.js';
import type { AppData, Config, Placement } from '../../schema/model.js';
import type { ConfigSource } from '../../schema/source.js';
import type { SourceReader } from '../../fleet/node/driver.js';
import type { RenderedNode } from '../../generators/render-types.js';
import { renderFleet } from '../../generators/render-node.js';
import { compileFleet } from '../pipeline/pipeline.js';
import type { CompileCache } from '../pipeline/compile-cache.js';
import { digestFlakeFiles, readFlakeFiles, type FlakeFile } from '../pipeline/flake-inputs.js';
import { dataOf, instancesOf } from './write-rendered.js';
import { openApplied } from './applied.js';
import { readAppliedManifests } from './applied-manifests.js';

export interface RevisionToCompile {
  source: ConfigSource;
  files: SourceReader;
  /** null: a working tree. */
  commit: string | null;
}

export interface CompiledRevision {
  config: Config;
  placement: Placement;
  /** In fleet.yaml order. */
  rendered: RenderedNode[];
  flake: Record<FlakeFile, Buffer | null>;
  /** Where each app's data was as the nodes last applied it: what a data move starts from. */
  previousData: Record<string, AppData>;
}

export async function compileRevision(rev: RevisionToCompile, opts: { stateDir: string; parseCache?: ParseCache; compileCache?: CompileCache }): Promise<CompiledRevision> {
  const cache = opts.compileCache;
  const applied = openApplied(opts.stateDir);
  // Instances keep the nodes and ports they were applied with.
  const manifests = cache ? readAppliedManifests(opts.stateDir, applied, cache.dir) : applied.all().map((a) => a.manifest);
  const { config, placement } = await compileFleet(rev.source, {
    parseCache: cache?.parse ?? opts.parseCache,
    previous: instancesOf(manifests),
    previousData: dataOf(manifests),
    files: rev.files,
    commit: rev.commit,
    memo: cache?.checked,
  });
  const flake = await readFlakeFiles(rev.files);
  const rendered = renderFleet(config, placement, { revision: rev.commit, flake: digestFlakeFiles(flake), renderCache: cache?.rendered.forRevision(rev.commit) });
  return { config, placement, rendered, flake, previousData: dataOf(manifests) };
}
