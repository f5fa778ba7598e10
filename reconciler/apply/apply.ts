// `skyrec apply`: render a revision, then roll it out through a node driver, one apply per
// fleet at a time. Reads the revision from git objects (--rev) or the working tree.
import { decideDataMoves } from '../backup/move-decide.js';
import { readMoveJournals } from '../backup/move-journal.js';
import type { RestoreResult } from '../backup/restore-app.js';
import type { MoveReport } from '../backup/move-data.js';
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ParseCache } from '../../schema/load-yaml.js';
import { worktreeFiles, worktreeSource, type ConfigSource } from '../../schema/source.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { indexAddons } from '../../generators/addons.js';
import type { NodeDriver, NodeTarget, SourceReader } from '../../fleet/node/driver.js';
import { buildSwitchArgv } from '../../fleet/drivers/nixos/driver-nixos.js';
import { detectSudoFlag, type SudoFlag } from '../../fleet/drivers/nixos/nixos-rebuild-sudo.js';
import { exec } from '../../common/exec.js';
import { createDriver, type DriverOptions } from './create-driver.js';
import { commitFiles, commitSource, openGit, resolveRevision } from '../pipeline/git.js';
import { openApplied } from './applied.js';
import { compileRevision } from './compile-revision.js';
import { StateStore } from '../state/state-store.js';
import { acquireLock } from '../state/lock.js';
import { runRollout, selectChanged, type RolloutResult } from './rollout.js';
import { dataCycles, orderRollout, type HeldBefore } from './rollout-order.js';
import type { AppliedStore } from './rollout-model.js';
import type { Progress } from '../../common/progress.js';
import type { Logger } from '../../common/log.js';
import { ApplyRefusedError, PreflightError, UsageError } from '../../common/errors.js';
import { FLAKE_FILES, type FlakeFile } from '../pipeline/flake-inputs.js';
import type { CompileCache } from '../pipeline/compile-cache.js';
import type { NodeRunSpec } from '../../generators/render-run-spec.js';
import { stagedTarget, switchStaged } from './stage-data-node.js';
import type { PlannedMove } from '../backup/move-decide.js';

export interface ApplyOptions extends DriverOptions {
  dir: string;
  rev?: string;
  nodes?: string[];
  dryRun: boolean;
  force: boolean;
  parseCache?: ParseCache;
  /** The reconciler's compile cache (parsed specs, validated commits, rendered nodes), instead of parseCache. */
  compileCache?: CompileCache;
  log: Logger;
  progress: (nodes: string[]) => Progress;
  /** Aborted: the rollout finishes the batch being switched and starts no other. */
  signal?: AbortSignal;
  /** A driver to use instead of the one `driver` names (the bench's stand-in). */
  driverImpl?: NodeDriver;
}

export interface DryRunNode {
  node: string;
  /** 0: before the rollout, an intermediate generation for a data move (`staged`). */
  batch: number;
  commands: string[][];
  /** The apps whose instances this intermediate generation leaves out: their data moves to the node first. */
  staged?: string[];
}

export interface ApplyResult {
  revision: string;
  label: string;
  dryRun: DryRunNode[] | null;
  rollout: RolloutResult | null;
  /** Local driver: where each domain answers (send the domain as Host). */
  urls: { domain: string; url: string }[];
  /** Apps whose data moved with its node in this apply (reconciler/backup/move-data.ts). */
  dataMoves?: MoveReport[];
  /** In-place restores a killed `skyrec restore` left, finished before the rollout (reconciler/backup/restore-app.ts). */
  restores?: RestoreResult[];
}

/** Reads the revision to apply: a commit through git objects, or the working tree. */
async function openRevision(opts: ApplyOptions): Promise<{ source: ConfigSource; files: SourceReader; commit: string | null; label: string }> {
  if (!opts.rev) return { source: worktreeSource(opts.dir), files: worktreeFiles(opts.dir), commit: null, label: 'working tree' };
  const git = openGit(opts.dir);
  const commit = await resolveRevision(git, opts.rev);
  return { source: await commitSource(git, commit), files: await commitFiles(git, commit), commit, label: opts.rev };
}

export async function applyRevision(opts: ApplyOptions): Promise<ApplyResult> {
  const rev = await openRevision(opts);
  const applied = openApplied(opts.stateDir);
  const { config, placement, rendered, flake, previousData } = await compileRevision(rev, opts);
  // Apply refuses a move that would start an app on an empty database; with a backup target it moves the data.
  const moves = decideDataMoves(previousData, config, placement, readMoveJournals(opts.stateDir), { driver: opts.driver, nodes: opts.nodes });
  const known = new Set(config.fleet.nodes.map((n) => n.name));
  let addons: ReturnType<typeof indexAddons> | undefined;
  for (const n of opts.nodes ?? []) if (!known.has(n)) throw new UsageError(`unknown node '${n}'`, { hint: `nodes in fleet.yaml: ${[...known].join(', ')}` });
  const targets: NodeTarget[] = config.fleet.nodes
    .map((node, i) => withLazyRun({ node, rendered: rendered[i], revision: rev.commit }, () => renderRunSpec(config, placement, node.name, (addons ??= indexAddons(config, placement)))))
    .filter((t) => !opts.nodes?.length || opts.nodes.includes(t.node.name));
  // A working tree has no commit id: its failures are recorded under a digest of what it renders.
  const revision = rev.commit ?? `worktree-${createHash('sha256').update(rendered.map((r) => r.manifest.hash).join('\n')).digest('hex').slice(0, 16)}`;

  const store = StateStore.open(opts.stateDir);
  try {
    const failed = store.failedRevision(revision);
    if (failed && !opts.force && !opts.dryRun) {
      throw new ApplyRefusedError(`${rev.label} (${revision.slice(0, 12)}) failed on ${failed.at}: ${failed.reason}`, { hint: 'push a fix, or pass --force to apply this revision again' });
    }
    if (opts.driver === 'nixos') await writeRenderedFlake(join(opts.stateDir, 'flake'), targets, rev.files, flake);
    const driver = opts.driverImpl ?? createDriver(opts, opts.log, config.fleet.settings.secretsDir);
    const changed = selectChanged(targets, store, driver);
    if (opts.dryRun) return { revision, label: rev.label, dryRun: [...describeStaging(moves, changed, targets, opts), ...(await describeDryRun(changed, config.fleet.settings.rollout, opts))], rollout: null, urls: [] };

    const problems = changed.length > 0 ? await driver.preflight(changed) : [];
    if (problems.length > 0) throw new PreflightError(problems);
    const lock = acquireLock(opts.stateDir, `skyrec apply${opts.rev ? ` --rev ${opts.rev}` : ''}`);
    try {
      // A `skyrec restore` killed mid-way left its app paused: finished first, on the nodes as they were applied.
      const { finishRestores } = await import('../backup/restore-app.js');
      const restores = await finishRestores({ all: () => applied.all(), driver, stateDir: opts.stateDir, log: opts.log });
      const { startDataMoves } = await import('../backup/move-data.js');
      const stageDeps = { revision, input: { ingress: config.fleet.nodes.filter((n) => n.ingress), rollout: config.fleet.settings.rollout }, driver, store, applied, sources: rev.files, log: opts.log, progress: opts.progress };
      const flakeDir = join(opts.stateDir, 'flake');
      // The intermediate generation goes where nixos-rebuild builds from; the node's own files go back for the rollout.
      const writeFiles = opts.driver === 'nixos' ? (t: NodeTarget) => writeNodeFiles(flakeDir, t) : undefined;
      /** Switches the nodes to their intermediate generations (each without `apps`' instances), in one rollout: batches of maxParallel. */
      const stageAll = async (nodes: { node: string; apps: string[] }[], why?: string) => {
        const staged = nodes.map(({ node, apps }) => ({ target: stagedTarget(config, placement, node, new Set(apps), { revision: rev.commit, flake: rendered[0]?.manifest.flake }), apps }));
        try {
          await switchStaged(staged, { ...stageDeps, writeFiles }, why);
        } finally {
          for (const { node } of nodes) {
            const own = targets.find((t) => t.node.name === node);
            if (own && writeFiles) await writeFiles(own);
          }
        }
      };
      // Nodes that use each other's data: each first runs its data without the instances that use another node's.
      const cycles = [...dataCycles(changed, heldBefore(applied))].map(([node, names]) => ({ node, apps: [...names] }));
      if (cycles.length > 0) {
        opts.log.warn({ nodes: cycles.map((c) => c.node) }, `${cycles.length} nodes use data on nodes that use theirs: switching them first without those apps' instances`);
        await stageAll(cycles, "which use data on nodes that use this node's data");
      }
      const stage = (node: string, apps: string[], why?: string) => stageAll([{ node, apps }], why);
      const move = moves.length > 0 ? await startDataMoves(moves, { driver, targets, applied: applied.all(), target: config.fleet.backups!, stateDir: opts.stateDir, log: opts.log, stage }) : null;
      const rollout = await runRollout(
        { revision, targets, ingress: config.fleet.nodes.filter((n) => n.ingress), rollout: config.fleet.settings.rollout },
        { driver: move?.driver ?? driver, store, applied, sources: rev.files, log: opts.log, progress: opts.progress, signal: opts.signal },
      );
      const dataMoves = move ? await move.finish(rollout) : undefined;
      if (rollout.outcome === 'succeeded' && failed) store.clearFailedRevision(revision);
      // Only ingress nodes carry routes.
      const urls = opts.driver === 'local' ? targets.filter((t) => t.node.ingress).flatMap((t) => (t.run.routes ?? []).map((r) => ({ domain: r.domain, url: driver.ingressUrl(t.node) }))) : [];
      return { revision, label: rev.label, dryRun: null, rollout, urls, ...(dataMoves ? { dataMoves } : {}), ...(restores.length > 0 ? { restores } : {}) };
    } finally {
      lock.release();
    }
  } finally {
    store.close();
  }
}

/**
 * A target whose run spec is made when first read: a rollout reads those of the nodes it
 * switches and of the ingress nodes, and a fleet of hundreds of nodes changes a few at a time.
 */
function withLazyRun(target: Omit<NodeTarget, 'run'>, make: () => NodeRunSpec): NodeTarget {
  let run: NodeRunSpec | undefined;
  return Object.defineProperty(target, 'run', { enumerable: true, get: () => (run ??= make()) }) as NodeTarget;
}

/** Whether a node served an app's addon data when last applied (each node's record read once). */
const heldBefore = (applied: AppliedStore): HeldBefore => {
  const held = new Map<string, Set<string>>();
  return (node, app, addon) => {
    let data = held.get(node);
    if (!data) {
      const run = applied.read(node)?.run;
      data = new Set((['postgres', 'redis'] as const).flatMap((a) => (run?.[a] ?? []).map((d) => `${a}/${d.app}`)));
      held.set(node, data);
    }
    return data.has(`${addon}/${app}`);
  };
};

/** The intermediate switches of new data nodes (nixos driver), before the apps pause and the rollout. */
function describeStaging(moves: PlannedMove[], changed: NodeTarget[], targets: NodeTarget[], opts: ApplyOptions): DryRunNode[] {
  const byNode = new Map<string, Set<string>>([...dataCycles(changed, heldBefore(openApplied(opts.stateDir)))].map(([node, apps]) => [node, new Set(apps)]));
  for (const m of moves) if (m.stage && m.restore) byNode.set(m.to, (byNode.get(m.to) ?? new Set()).add(m.app));
  return [...byNode].flatMap(([node, apps]) => {
    const t = targets.find((x) => x.node.name === node);
    return t ? [{ node, batch: 0, staged: [...apps].sort(), commands: [buildSwitchArgv(t.node, join(opts.stateDir, 'flake'), '--sudo')] }] : [];
  });
}

/** Replaces the node's folder of the rendered flake with `target`'s files. */
async function writeNodeFiles(flakeDir: string, target: NodeTarget): Promise<void> {
  const dir = join(flakeDir, 'rendered', target.node.name);
  await rm(dir, { recursive: true, force: true });
  for (const [path, content] of Object.entries(target.rendered.files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

async function describeDryRun(changed: NodeTarget[], rollout: { canary: number; maxParallel: number }, opts: ApplyOptions): Promise<DryRunNode[]> {
  // The sudo flag is the one the nixos-rebuild here knows, as the apply would ask it.
  const sudoFlag: SudoFlag = opts.driver === 'nixos' && changed.some((t) => t.node.sudo) ? await detectSudoFlag(exec, 'nixos-rebuild', { timeoutMs: 60_000, log: opts.log }) : '--sudo';
  return orderRollout(changed, rollout).flatMap((batch, b) =>
    batch.map((t) => ({
      node: t.node.name,
      batch: b + 1,
      commands:
        opts.driver === 'nixos'
          ? [buildSwitchArgv(t.node, join(opts.stateDir, 'flake'), sudoFlag)]
          : [['nix-store', '--add', `<generation of ${t.node.name}>`], ['nix-env', '--profile', join(opts.stateDir, 'local', t.node.name, 'profile'), '--set', '<store path>']],
    })),
  );
}

/**
 * The flake nixos-rebuild builds: the config repo's own flake.nix and flake.lock (the pinned
 * input set; never a template written over them), hosts/, app sources and rendered/<node>/.
 * A revision without them is written without them, and the nixos driver's preflight refuses it.
 */
async function writeRenderedFlake(dir: string, targets: NodeTarget[], files: SourceReader, flake: Record<FlakeFile, Buffer | null>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const put = async (path: string, content: string | Buffer) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  };
  await mkdir(dir, { recursive: true });
  for (const f of FLAKE_FILES) if (flake[f] !== null) await put(f, flake[f]!);
  const copied = new Set<string>();
  for (const t of targets) {
    await writeNodeFiles(dir, t);
    for (const folder of ['hosts', ...t.run.sources]) {
      if (copied.has(folder)) continue;
      copied.add(folder);
      for (const f of await files.listFiles(folder).catch(() => [])) await put(f, await files.readBytes(f));
    }
  }
}
