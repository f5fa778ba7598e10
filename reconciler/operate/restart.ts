// `skyrec restart APP`: a rolling restart without a commit. Each node that runs the app, one after
// another, restarts the app's instances through the rollout's own restartRolling: a web instance
// leaves the ingress, restarts, passes its health check and comes back (the only serving instance
// of a domain restarts in place); other processes restart in place and must run again. Recorded
// in the state store as a rollout of the revision the nodes run, with a health step per node.
import type { NodeTarget, SourceReader } from '../../fleet/node/driver.js';
import type { Progress } from '../../common/progress.js';
import type { Logger } from '../../common/log.js';
import type { Settings } from '../../schema/model.js';
import type { StateStore } from '../state/state-store.js';
import type { AppliedNode, AppliedStore, RolloutDeps } from '../apply/rollout-model.js';
import { drainSetFor } from '../apply/rollout.js';
import { restartRolling } from '../apply/rollout-node.js';
import type { AppUnits } from './app-units.js';
import { PreflightError } from '../../common/errors.js';

export interface RestartOptions {
  units: AppUnits;
  applied: AppliedStore & { all(): AppliedNode[] };
  driver: RolloutDeps['driver'];
  store: StateStore;
  log: Logger;
  progress: (nodes: string[]) => Progress;
  healthTimeoutMs: number;
  /** How the command was asked, for the record (`restart shop --process web`). */
  label: string;
}

export interface RestartResult {
  rolloutId: number;
  outcome: 'succeeded' | 'failed';
  nodes: { node: string; units: string[]; failures: string[] }[];
}

// A restart builds nothing: the sources of a revision are never read.
const NO_SOURCES: SourceReader = {
  listFiles: async () => [],
  readBytes: async (p) => {
    throw new Error(`a restart reads no source (${p})`);
  },
};

const targetOf = (a: AppliedNode): NodeTarget => ({ node: a.node, rendered: { node: a.node.name, inputs: '', files: {}, manifest: a.manifest }, revision: a.manifest.revision, run: a.run });

export async function restartApp(o: RestartOptions): Promise<RestartResult> {
  const all = o.applied.all();
  const rollout: Settings['rollout'] = { canary: 1, maxParallel: 1, healthTimeoutMs: o.healthTimeoutMs, autoRollback: false };
  const input = { revision: all[0]?.manifest.revision ?? 'working tree', targets: all.map(targetOf), ingress: all.filter((a) => a.node.ingress).map((a) => a.node), rollout };
  const deps = { applied: o.applied, driver: o.driver, store: o.store, sources: NO_SOURCES, log: o.log };
  // What an apply checks before it switches anything (local: the secret files the processes read
  // at start): a restart that cannot start an instance again must not stop the first one.
  const problems = await o.driver.preflight(input.targets.filter((t) => o.units.nodes.some((n) => n.node.name === t.node.name)));
  if (problems.length > 0) throw new PreflightError(problems);
  const drains = drainSetFor(input, deps);
  // Nodes with only the release (the app's anchor without instances) have nothing to restart.
  const nodes = o.units.nodes.filter((n) => n.units.some((u) => u.kind === 'instance'));
  const names = nodes.map((n) => n.node.name);
  const rolloutId = o.store.beginRollout({ revision: all[0]?.manifest.revision ?? null, driver: o.driver.kind, nodes: names });
  const progress = o.progress(names);
  const results: RestartResult['nodes'] = [];
  try {
    for (const { node, units } of nodes) {
      const target = input.targets.find((t) => t.node.name === node.name)!;
      const restart = units.filter((u) => u.kind === 'instance').map((u) => u.unit);
      const step = o.store.startStep({ rolloutId, node: node.name, kind: 'health', detail: `${o.label}: ${restart.join(', ')}` });
      const held: Parameters<typeof restartRolling>[5] = [];
      const ctx = { ...deps, log: o.log.child({ node: node.name }), progress, rolloutId, input, drains };
      let failures: string[];
      try {
        failures = await restartRolling(ctx, target, restart, target.run.instances, target.run.instances, held);
      } catch (err) {
        failures = [(err as Error).message];
      }
      // An instance that did not come back healthy is put back too: there is nothing to roll back
      // to, and a drain left behind would outlive this command.
      for (const u of held) await drains.release(u);
      o.store.finishStep(step, failures.length ? 'failed' : 'ok', failures.length ? failures.join('; ') : `${o.label}: ${restart.length} restarted one at a time, each healthy`);
      progress.update(node.name, failures.length ? 'failed' : 'healthy', failures.length ? failures[0] : `${restart.length} restarted`);
      results.push({ node: node.name, units: restart, failures });
      if (failures.length) break;
    }
    for (const name of names.filter((n) => !results.some((r) => r.node === n))) progress.update(name, 'skipped', 'not restarted: the restart stopped');
  } finally {
    progress.done();
  }
  const failed = results.some((r) => r.failures.length > 0);
  o.store.finishRollout(rolloutId, failed ? 'failed' : 'succeeded', `${o.label}${failed ? `: failed on ${results.filter((r) => r.failures.length).map((r) => r.node).join(', ')}` : ''}`);
  return { rolloutId, outcome: failed ? 'failed' : 'succeeded', nodes: results };
}
