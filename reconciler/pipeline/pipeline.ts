// The pure core end to end: load → validate → place → render, for one revision of a config
// repo. Throws SpecError with every problem; returns plain data otherwise.
import type { AppData, Config, Instance, Placement, Problem } from '../../schema/model.js';
import type { ConfigSource } from '../../schema/source.js';
import type { SourceReader } from '../../fleet/node/driver.js';
import { createHash } from 'node:crypto';
import { checkRepo, locateIssue, type LoadOptions } from '../../schema/validate.js';
import { sortProblems } from '../../common/problem.js';
import { placeInstances } from '../../fleet/placement/place.js';
import type { RenderedNode, RenderOptions } from '../../generators/render-types.js';
import { SpecError } from '../../common/errors.js';
import { readFlakeInputs } from './flake-inputs.js';
import type { CheckedFleet, CheckedMemo } from './checked-memo.js';

export interface CompiledFleet {
  config: Config;
  placement: Placement;
  /** Not errors, file:line:col positioned (data that no backup covers). */
  warnings?: Problem[];
}

export interface CompileOptions extends LoadOptions {
  /** The last placement: instances keep their nodes and ports. */
  previous?: Instance[];
  /** The last placement's data nodes: addons keep their data where it is. */
  previousData?: Record<string, AppData>;
  /** Reads the revision's app sources, to digest each build.path folder (App.sourceDigest). */
  files?: SourceReader;
  /** The commit read (or a working tree's key, worktree-key.ts), and validated fleets by commit (the compile cache): a commit validated before is not again. */
  commit?: string | null;
  memo?: CheckedMemo;
}

/** Fills App.sourceDigest: one sha256 per build.path folder over its files' paths and bytes. */
export async function digestSources(config: Config, files: SourceReader): Promise<void> {
  const digests = new Map<string, Promise<string>>();
  const digest = async (dir: string) => {
    const h = createHash('sha256');
    for (const path of await files.listFiles(dir)) h.update(path).update('\0').update(await files.readBytes(path)).update('\0');
    return h.digest('hex');
  };
  for (const app of config.apps) {
    const dir = app.package.build?.path;
    if (!dir) continue;
    if (!digests.has(dir)) digests.set(dir, digest(dir));
    app.sourceDigest = await digests.get(dir)!;
  }
}

export type { CheckedFleet } from './checked-memo.js';

/** Loads and validates a config repo; `where` names it in errors ('head (working tree)'). */
export async function checkFleet(source: ConfigSource, opts: LoadOptions & Pick<CompileOptions, 'files' | 'commit' | 'memo'> & { where?: string } = {}): Promise<CheckedFleet> {
  // The sources' digests are part of the config: only a commit's, read with them, is kept.
  const memo = opts.commit && opts.files ? opts.memo : undefined;
  const hit = memo?.get(opts.commit!);
  if (hit) return hit;
  const repo = await checkRepo(source, opts);
  const { config, problems, loaded } = repo;
  if (!config) throw new SpecError(problems, opts.where);
  if (opts.files) await digestSources(config, opts.files);
  // Warnings are made when read (only `skyrec validate` shows them).
  const checked: CheckedFleet = { config, loaded, get warnings() { return repo.warnings; } };
  memo?.set(opts.commit!, checked);
  return checked;
}

/** Places a validated repo; capacity problems are reported at the app fields that caused them. */
export function placeFleet(checked: CheckedFleet, previous?: Instance[], where?: string, previousData?: Record<string, AppData>): Placement {
  const { placement, issues } = placeInstances(checked.config, previous, previousData);
  if (issues.length > 0) throw new SpecError(sortProblems(issues.map((i) => locateIssue(checked.loaded, i))), where);
  return placement;
}

/** Validates and places a config repo. */
export async function compileFleet(source: ConfigSource, opts: CompileOptions = {}): Promise<CompiledFleet> {
  const checked = await checkFleet(source, opts);
  const placement = placeFleet(checked, opts.previous, undefined, opts.previousData);
  return { config: checked.config, placement, get warnings() { return checked.warnings; } };
}

export async function renderRepo(
  source: ConfigSource,
  opts: RenderOptions & CompileOptions,
): Promise<CompiledFleet & { nodes: RenderedNode[] }> {
  const compiled = await compileFleet(source, opts);
  // Loaded here, not at import: `validate` compiles without rendering.
  const { renderFleet } = await import('../../generators/render-node.js');
  // The revision's flake.nix and flake.lock are in every node's manifest, as apply renders it.
  const flake = opts.flake ?? (opts.files ? await readFlakeInputs(opts.files) : undefined);
  return { ...compiled, nodes: renderFleet(compiled.config, compiled.placement, { ...opts, flake }) };
}
