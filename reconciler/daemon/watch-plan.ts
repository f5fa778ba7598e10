// Plans for `skyrec reconcile --watch`: the working tree against what the nodes run now. The
// base is, in order: a working tree this session planned, once every node runs it (after a
// --apply, or an apply from another terminal); a commit every node runs (from the manifests
// in the state directory), with the ports they run on; HEAD; an empty fleet.
import type { ParseCache } from '../../schema/load-yaml.js';
import { worktreeFiles, worktreeSource } from '../../schema/source.js';
import { readFlakeInputs } from '../pipeline/flake-inputs.js';
import { renderFleet } from '../../generators/render-node.js';
import type { Manifest, RenderedNode } from '../../generators/render-types.js';
import { commitFiles, commitSource, isGitRepo, openGit, resolveRevision, type GitReader } from '../pipeline/git.js';
import { checkFleet, placeFleet, type CheckedFleet } from '../pipeline/pipeline.js';
import { diffRevisions } from '../plan/plan-diff.js';
import type { RevisionState } from '../plan/revision-state.js';
import type { Plan, RevisionLabel } from '../plan/plan-model.js';
import { dataOf, instancesOf } from '../apply/write-rendered.js';
import { openApplied } from '../apply/applied.js';
import { SpecError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';

export interface WorktreePlannerOptions {
  /** The config repo's working tree. */
  dir: string;
  /** Where applies record what each node runs (`<state>/applied/<node>.json`). */
  stateDir: string;
  /** Kept for the whole session: an unchanged spec is parsed once. */
  parseCache: ParseCache;
  log: Logger;
  now?: () => Date;
}

export interface WorktreePlan {
  plan: Plan;
  /** Nodes that do not run what the working tree renders (or run nothing yet): what an apply would switch. */
  outOfDate: string[];
  /** The build.path folders of the working tree's apps: saves there change what is rendered. */
  sources: string[];
}

export interface WorktreePlanner {
  plan(): Promise<WorktreePlan>;
}

export function createWorktreePlanner(opts: WorktreePlannerOptions): WorktreePlanner {
  const now = opts.now ?? (() => new Date());
  let last: RevisionState | null = null; // the working tree planned last
  let running: RevisionState | null = null; // a working tree of this session that every node runs
  let cached: { key: string; state: RevisionState } | null = null; // the base read from git

  return {
    async plan() {
      const started = performance.now();
      const manifests = openApplied(opts.stateDir).all().map((a) => a.manifest);
      const hashes = new Map(manifests.map((m) => [m.node, m.hash]));
      const head = await checkFleet(worktreeSource(opts.dir), { parseCache: opts.parseCache, where: 'the working tree', files: worktreeFiles(opts.dir) });
      if (last && runsEverywhere(last, hashes)) running = last;
      let base = running && runsEverywhere(running, hashes) ? running : null;
      if (!base) {
        const key = `${await headCommit(opts.dir)}\n${JSON.stringify([...hashes])}`;
        if (cached?.key !== key) cached = { key, state: await readBase(opts, head, manifests, hashes) };
        base = cached.state;
      }
      // Instances keep the nodes and ports they run on, as an apply keeps them.
      const previous = manifests.length > 0 ? { instances: instancesOf(manifests), data: dataOf(manifests) } : base.placement;
      const placement = placeFleet(head, previous.instances, 'the working tree', previous.data);
      const renderCache = new Map<string, RenderedNode>(base.nodes.map((n) => [n.inputs, n]));
      // The flake's digests are in every applied manifest: render with them, or every node looks out of date.
      const flake = await readFlakeInputs(worktreeFiles(opts.dir));
      const nodes = renderFleet(head.config, placement, { revision: null, renderCache, flake });
      const headState: RevisionState = { label: { revision: null, label: 'working tree' }, config: head.config, placement, nodes, flake };
      last = { ...headState, label: { revision: null, label: `working tree of ${clockTime(now())} (applied)` } };
      const plan = diffRevisions(base, headState, { diff: false });
      opts.log.debug({ base: base.label.label, changed: plan.nodes.length, ms: Math.round(performance.now() - started) }, 'watch: planned');
      return {
        plan,
        outOfDate: nodes.filter((n) => hashes.get(n.node) !== n.manifest.hash).map((n) => n.node),
        sources: [...new Set(head.config.apps.flatMap((a) => a.package.build?.path ?? []))].sort(),
      };
    },
  };
}

/** Does every node that runs something run what `state` renders, and every node of `state` run something? */
function runsEverywhere(state: RevisionState, hashes: Map<string, string>): boolean {
  return hashes.size > 0 && hashes.size === state.nodes.length && state.nodes.every((n) => hashes.get(n.node) === n.manifest.hash);
}

async function headCommit(dir: string): Promise<string | null> {
  return (await isGitRepo(dir)) ? resolveRevision(openGit(dir), 'HEAD').catch(() => null) : null;
}

/** A commit every node runs (from the applied manifests), else HEAD, else an empty fleet. */
async function readBase(opts: WorktreePlannerOptions, head: CheckedFleet, manifests: Manifest[], hashes: Map<string, string>): Promise<RevisionState> {
  if (!(await isGitRepo(opts.dir))) return emptyBase(head, 'nothing (not a git repository)');
  const git = openGit(opts.dir); // a new reader each time: HEAD moves when the user commits
  // A node an apply left unchanged keeps the revision that last changed it, so several may appear.
  const applied = [...new Set(manifests.flatMap((m) => m.revision ?? []))];
  for (const rev of applied) {
    const commit = await resolveRevision(git, rev).catch(() => null);
    const state = commit ? await commitBase(opts, git, { revision: commit, label: 'applied' }, manifests).catch(() => null) : null;
    if (state && runsEverywhere(state, hashes)) return state;
  }
  const commit = await resolveRevision(git, 'HEAD').catch(() => null);
  if (!commit) return emptyBase(head, 'nothing (no commit yet)');
  try {
    const state = await commitBase(opts, git, { revision: commit, label: 'HEAD' }, manifests);
    return runsEverywhere(state, hashes) ? { ...state, label: { revision: commit, label: 'applied' } } : state;
  } catch (err) {
    // HEAD's specs are broken and the working tree is where they get fixed: plan against nothing.
    if (!(err instanceof SpecError)) throw err;
    return emptyBase(head, `nothing (HEAD ${commit.slice(0, 7)} has invalid specs)`);
  }
}

async function commitBase(opts: WorktreePlannerOptions, git: GitReader, label: RevisionLabel, manifests: Manifest[]): Promise<RevisionState> {
  const commit = label.revision!;
  const where = `${label.label} (${commit.slice(0, 7)})`;
  const files = await commitFiles(git, commit);
  const checked = await checkFleet(await commitSource(git, commit), { parseCache: opts.parseCache, where, files });
  const flake = await readFlakeInputs(files);
  const placement = manifests.length > 0 ? placeFleet(checked, instancesOf(manifests), where, dataOf(manifests)) : placeFleet(checked, undefined, where);
  return { label, config: checked.config, placement, nodes: renderFleet(checked.config, placement, { revision: commit, flake }), flake };
}

/** No node and no app: everything in the working tree is new. */
function emptyBase(head: CheckedFleet, label: string): RevisionState {
  return { label: { revision: null, label }, config: { fleet: { ...head.config.fleet, nodes: [] }, apps: [] }, placement: { instances: [], anchors: {}, data: {} }, nodes: [] };
}

/** HH:MM:SS, local time. */
export function clockTime(d: Date): string {
  return d.toTimeString().slice(0, 8);
}
