// `skyrec plan`: render two revisions of the config repo (read from git objects, or the
// working tree for head) and compare them. Shared caches make the second revision cheap: a spec
// blob is parsed once, and a node whose render inputs are the same in both is not rendered at all.
import type { ParseCache } from '../../schema/load-yaml.js';
import type { ConfigSource } from '../../schema/source.js';
import { worktreeFiles, worktreeSource } from '../../schema/source.js';
import type { SourceReader } from '../../fleet/node/driver.js';
import { fleetRenderer, sameFiles } from '../../generators/render-node.js';
import type { FlakeInputs } from '../../generators/render-types.js';
import type { Placement } from '../../schema/model.js';
import type { CompileCache } from '../pipeline/compile-cache.js';
import { commitFiles, commitSource, findMergeBase, isGitRepo, openGit, resolveRevision, type GitReader } from '../pipeline/git.js';
import { GitError } from '../../common/errors.js';
import { checkFleet, type CheckedFleet } from '../pipeline/pipeline.js';
import { placeAndDigest } from '../pipeline/placed-memo.js';
import { readFlakeInputs } from '../pipeline/flake-inputs.js';
import { snapshotWorktree, withBlobIds } from '../pipeline/worktree-key.js';
import { memoryReleaser } from '../pipeline/release-memory.js';
import { diffRevisions } from './plan-diff.js';
import type { RevisionState } from './revision-state.js';
import type { Plan, RevisionLabel } from './plan-model.js';
import type { Logger } from '../../common/log.js';

export interface PlanOptions {
  /** The config repo: the top of a git repository. */
  dir: string;
  /** Default: the merge-base of head with settings.branch (of head's fleet.yaml). */
  base?: string;
  /** Default: the working tree, uncommitted edits included. */
  head?: string;
  diff: boolean;
  parseCache?: ParseCache;
  /** The reconciler's compile cache: revisions it validated and nodes it rendered are reused (instead of parseCache). */
  compileCache?: CompileCache;
  log?: Logger;
  /** Render every node of both revisions, even those whose inputs are the same (what the skipping is tested against). */
  renderEveryNode?: boolean;
}

export interface PlanResult {
  plan: Plan;
  /** The nodes rendered for each revision; the others came from the render cache. */
  rendered: { base: string[]; head: string[] };
}

export async function planRevisions(opts: PlanOptions): Promise<PlanResult> {
  if (!(await isGitRepo(opts.dir))) {
    throw new GitError(`${opts.dir} is not the top of a git repository`, { hint: 'plan compares git revisions: run it in the config repo, or pass --repo' });
  }
  const git = openGit(opts.dir);
  const started = performance.now();
  const releaseMemory = memoryReleaser();

  const headSide = await openHead(git, opts);
  const cache = opts.compileCache;
  const parseCache = cache?.parse ?? opts.parseCache;
  // A working tree is known by its files' digest and each file by its blob id (worktree-key.ts), as a commit is.
  const snapshot = headSide.label.revision === null && cache ? snapshotWorktree(opts.dir, cache.dir) : null;
  const head = await checkFleet(withBlobIds(headSide.source, snapshot), { parseCache, where: describe(headSide.label), files: headSide.files, commit: headSide.label.revision ?? snapshot?.key, memo: cache?.checked });
  releaseMemory(); // what validating head left behind, before base adds its own (release-memory.ts)
  const baseLabel = await chooseBase(git, opts, head, headSide.commit);
  const baseFiles = await commitFiles(git, baseLabel.revision!);
  const base = await checkFleet(await commitSource(git, baseLabel.revision!), { parseCache, where: describe(baseLabel), files: baseFiles, commit: baseLabel.revision, memo: cache?.checked });
  releaseMemory();
  const flake = { base: await readFlakeInputs(baseFiles), head: await readFlakeInputs(headSide.files) };
  opts.log?.debug({ ms: Math.round(performance.now() - started) }, 'plan: both revisions validated');

  const rendered = { base: [] as string[], head: [] as string[] };
  const { placement: basePlacement, inputs: baseInputs } = placeAndDigest(base, { revision: baseLabel.revision, flake: flake.base, where: describe(baseLabel), memo: cache?.placed });
  // Head keeps base's nodes and ports wherever it can, as applying it would.
  const { placement: headPlacement, inputs: headInputs } = placeAndDigest(head, { revision: headSide.label.revision ?? snapshot?.key, previous: basePlacement.instances, previousData: basePlacement.data, flake: flake.head, where: describe(headSide.label), memo: cache?.placed });
  // A node whose render inputs are the same in both revisions renders the same files: it is
  // unchanged without rendering it. Only the others are rendered, on each side, one node at a
  // time as the diff asks for it (a node's files are dropped once compared).
  const sameInputs = new Set(opts.renderEveryNode ? [] : [...headInputs].filter(([node, digest]) => baseInputs.get(node) === digest).map(([node]) => node));
  const only = new Set([...baseInputs.keys(), ...headInputs.keys()].filter((node) => !sameInputs.has(node)));
  // A plan without diffs and without a render cache to fill compares file digests only: a file
  // known to be the same on both sides (render-node.ts sameFiles) is rendered on neither.
  const digestsOnly = !opts.diff && !cache && !opts.renderEveryNode ? sameFiles({ config: base.config, placement: basePlacement }, { config: head.config, placement: headPlacement }) : undefined;
  const renderer = (label: RevisionLabel, checked: CheckedFleet, placement: Placement, inputs: Map<string, string>, flakeInputs: FlakeInputs, names: string[]) =>
    fleetRenderer(checked.config, placement, {
      revision: label.revision,
      // Without the compile cache no node is rendered twice: a node's inputs name it, and one with the same inputs on both sides is not rendered.
      renderCache: opts.renderEveryNode ? undefined : cache?.rendered.forRevision(label.revision),
      only,
      inputs,
      flake: flakeInputs,
      sameFiles: digestsOnly,
      onRendered: (n) => {
        names.push(n);
        // Rendering makes garbage fast (each node's files, twice): collected every 40 nodes, peak RSS 157-160 → 147-151 MB on the bench's plan.
        // Comparing digests renders little: without these collections that plan peaked at 134-138 MB, for ~3% less time.
        if (!digestsOnly && (rendered.base.length + rendered.head.length) % 40 === 0) releaseMemory();
      },
    });
  const nodes = {
    base: renderer(baseLabel, base, basePlacement, baseInputs, flake.base, rendered.base),
    head: renderer(headSide.label, head, headPlacement, headInputs, flake.head, rendered.head),
  };
  const baseState: RevisionState = { label: baseLabel, config: base.config, placement: basePlacement, nodes: [], flake: flake.base };
  const headState: RevisionState = { label: headSide.label, config: head.config, placement: headPlacement, nodes: [], flake: flake.head };
  const plan = diffRevisions(baseState, headState, { diff: opts.diff, unchanged: sameInputs, nodes });
  opts.log?.debug({ ms: Math.round(performance.now() - started), rendered: { base: rendered.base.length, head: rendered.head.length } }, 'plan: done');
  return { plan, rendered };
}

async function openHead(git: GitReader, opts: PlanOptions): Promise<{ source: ConfigSource; files: SourceReader; label: RevisionLabel; commit: string | null }> {
  if (opts.head) {
    const commit = await resolveRevision(git, opts.head);
    return { source: await commitSource(git, commit), files: await commitFiles(git, commit), label: { revision: commit, label: opts.head }, commit };
  }
  const commit = await resolveRevision(git, 'HEAD').catch(() => null);
  return { source: worktreeSource(opts.dir), files: worktreeFiles(opts.dir), label: { revision: null, label: 'working tree' }, commit };
}

async function chooseBase(git: GitReader, opts: PlanOptions, head: CheckedFleet, headCommit: string | null): Promise<RevisionLabel> {
  if (opts.base) return { revision: await resolveRevision(git, opts.base), label: opts.base };
  const branch = head.config.fleet.settings.branch;
  if (!headCommit) throw new GitError('the repository has no commit yet', { hint: 'commit once, or pass --base' });
  const tip = await resolveRevision(git, branch).catch(() => {
    throw new GitError(`cannot find branch '${branch}' (settings.branch) locally or as origin/${branch}`, { hint: 'fetch it, or pass --base REV' });
  });
  const base = await findMergeBase(git, headCommit, tip);
  if (!base) throw new GitError(`head and '${branch}' have no common ancestor`, { hint: 'pass --base REV' });
  return { revision: base, label: `merge-base with ${branch}` };
}

/** 'base 1a2b3c4 (main)', 'head (working tree)': how errors name a revision. */
function describe(label: RevisionLabel): string {
  return label.revision ? `${label.revision.slice(0, 7)} (${label.label})` : `the ${label.label}`;
}
