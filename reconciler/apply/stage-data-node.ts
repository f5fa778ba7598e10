// A node that becomes a data node in the apply that moves data onto it (nixos driver): before the
// moving apps pause, it is switched to an intermediate generation, its full new generation minus
// the moving apps' instances, release and cron. That generation runs the node's PostgreSQL (its
// `ensureDatabases` creates the app's database, empty), the Redis servers and backup.nix (the
// backup properties, pgBackRest's wrapper, restic) the restore needs, and nothing of a moving app
// that could write to or serve from the empty database. The switch is a rollout of that one node:
// health-checked, rolled back when it fails, recorded like any other. The data is then restored
// into it (move-data.ts; the empty database is kept as <app>_before_restore), and the apply's own
// rollout switches the node to its full generation.
//
// NixOS behaviour relied on (nixpkgs' nixos/modules/services/databases/postgresql.nix, index id
// 101609704, the 26.05 shape read in docs/nixpkgs-26.05-facts.md §2): the intermediate switch
// starts postgresql.service (its preStart runs initdb on an empty dataDir) and
// postgresql-setup.service, which creates each `ensureDatabases` entry only when it is missing
// ("This option will never delete existing databases") and makes the role of an `ensureUsers`
// entry with `ensureDBOwnership` its owner. So the full generation's switch, after the restore,
// finds the restored database and leaves its rows alone.
import type { Config, Placement } from '../../schema/model.js';
import type { NodeTarget } from '../../fleet/node/driver.js';
import type { FlakeInputs } from '../../generators/render-types.js';
import { renderFleet } from '../../generators/render-node.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { SkyrecError } from '../../common/errors.js';
import { runRollout } from './rollout.js';
import type { RolloutDeps } from './rollout-model.js';

/** The placement without `apps`' instances on `node` and without their anchor there (release, cron). Pure. */
export function stagedPlacement(placement: Placement, node: string, apps: ReadonlySet<string>): Placement {
  return {
    instances: placement.instances.filter((i) => !(i.node === node && apps.has(i.app))),
    anchors: Object.fromEntries(Object.entries(placement.anchors).filter(([app, n]) => !(n === node && apps.has(app)))),
    data: placement.data,
  };
}

/** `node`'s intermediate generation: rendered files and run spec of the staged placement. Pure. */
export function stagedTarget(config: Config, placement: Placement, node: string, apps: ReadonlySet<string>, opts: { revision: string | null; flake?: FlakeInputs }): NodeTarget {
  const staged = stagedPlacement(placement, node, apps);
  const [rendered] = renderFleet(config, staged, { revision: opts.revision, flake: opts.flake, only: new Set([node]) });
  return { node: config.fleet.nodes.find((n) => n.name === node)!, rendered, revision: opts.revision, run: renderRunSpec(config, staged, node) };
}

export interface StageDeps extends Omit<RolloutDeps, 'progress' | 'signal'> {
  revision: string;
  input: { ingress: Config['fleet']['nodes']; rollout: Config['fleet']['settings']['rollout'] };
  progress: RolloutDeps['progress'];
  /** Puts the target's files where the driver switches from (nixos: the rendered flake), and back afterwards. */
  writeFiles?: (target: NodeTarget) => Promise<void>;
}

/**
 * Switches each target (an intermediate generation) in one rollout of those nodes: batches of
 * the fleet's maxParallel, no canary (a first deploy of a large fleet may stage many nodes; one
 * rollout per node would switch them one after another). Throws when one did not end healthy: it
 * was rolled back (or its state is unknown), and nothing paused.
 */
export async function switchStaged(staged: { target: NodeTarget; apps: string[] }[], deps: StageDeps, why = 'so that the data can be restored into its PostgreSQL'): Promise<void> {
  for (const { target } of staged) await deps.writeFiles?.(target);
  const rollout = await runRollout(
    { revision: deps.revision, targets: staged.map((s) => s.target), ingress: deps.input.ingress, rollout: { ...deps.input.rollout, canary: 0 } },
    deps,
  );
  if (rollout.outcome === 'succeeded' || rollout.outcome === 'noop') {
    for (const { target, apps } of staged) deps.log.info({ node: target.node.name, apps }, 'intermediate generation switched: the node\'s data first, those apps\' instances with the rollout');
    return;
  }
  const ok = new Set(['switched', 'unchanged']);
  const failed = staged.find(({ target }) => !ok.has(rollout.nodes.find((n) => n.node === target.node.name)?.result ?? '')) ?? staged[0];
  const failure = rollout.nodes.find((n) => n.node === failed.target.node.name);
  const node = failed.target.node.name;
  throw new SkyrecError(
    `${node}'s intermediate generation (its new one without ${failed.apps.join(', ')}'s instances, ${why}) ${failure?.result === 'rolled-back' ? 'failed and was rolled back' : 'did not finish'}: ${failure?.failures?.join('; ') ?? failure?.detail ?? rollout.outcome}; no app was paused and the rollout did not start`,
    { hint: `fix what the switch of ${node} reports, then apply again (the revision is marked failed: --force, or a new commit)` },
  );
}
