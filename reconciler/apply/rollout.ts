// The rollout engine: switches the nodes whose rendered hash changed, canaries first, then
// batches of maxParallel, each batch only after the previous one is healthy. A node that fails
// its health checks is switched back to the generation it had, checked again, and the rollout
// stops; the revision is recorded as failed. Every step is recorded as it happens, so that an
// apply killed half-way is finished correctly by the next one.
import type { DrainRoute, NodeDriver, NodeTarget } from '../../fleet/node/driver.js';
import type { NodeOutcome, RolloutDeps, RolloutInput } from './rollout-model.js';
import type { RunRoute } from '../../generators/render-run-spec.js';
import { DrainSet } from './drain.js';
import { drainSettle } from './drain-settle.js';
import { servesNow, switchOne } from './rollout-node.js';
import { orderRollout } from './rollout-order.js';
import type { StateStore } from '../state/state-store.js';

export { orderBatches } from './rollout-order.js';

export type { AppliedNode, AppliedStore, NodeOutcome, RolloutDeps, RolloutInput } from './rollout-model.js';

export interface RolloutResult {
  rolloutId: number | null;
  /** interrupted: `signal` stopped it between batches; the nodes not started keep what they ran. */
  outcome: 'succeeded' | 'failed' | 'noop' | 'interrupted';
  nodes: NodeOutcome[];
}

/**
 * Nodes to switch: the rendered hash differs from what the node last applied, its last apply did
 * not finish healthy, or (local driver) its processes were stopped since it was activated.
 */
export function selectChanged(targets: NodeTarget[], store: StateStore, driver?: Pick<NodeDriver, 'stopped'>): NodeTarget[] {
  return targets.filter((t) => {
    const rec = store.getNode(t.node.name);
    return !rec || rec.hash !== t.rendered.manifest.hash || rec.status !== 'healthy' || driver?.stopped?.(t.node) === true;
  });
}

export async function runRollout(input: RolloutInput, deps: RolloutDeps): Promise<RolloutResult> {
  const { store, log } = deps;
  const interrupted = store.unfinishedRollout();
  if (interrupted) {
    store.finishRollout(interrupted.id, 'interrupted', 'the apply process stopped before the rollout finished; a later apply finished it');
    log.warn({ rollout: interrupted.id }, 'resuming an interrupted rollout');
  }
  const changed = selectChanged(input.targets, store, deps.driver);
  const unchanged: NodeOutcome[] = input.targets.filter((t) => !changed.includes(t)).map((t) => ({ node: t.node.name, result: 'unchanged', generation: store.getNode(t.node.name)?.generation ?? null }));
  if (changed.length === 0) return { rolloutId: null, outcome: 'noop', nodes: unchanged };

  // A node whose instances use data on another node switches after it: a database exists before instances elsewhere use it.
  const batches = orderRollout(changed, input.rollout);
  const rolloutId = store.beginRollout({ revision: input.revision, driver: deps.driver.kind, nodes: changed.map((t) => t.node.name) });
  const progress = deps.progress(changed.map((t) => t.node.name));
  const outcomes = new Map<string, NodeOutcome>();
  const drains = drainSetFor(input, deps);
  let failed = false;
  let stopped = false;
  try {
    for (const batch of batches) {
      // A stop request (SIGTERM) lets the batch being switched finish, and starts no other.
      if (deps.signal?.aborted) {
        stopped = true;
        break;
      }
      const results = await Promise.all(
        batch.map((t) =>
          switchOne(t, { ...deps, log: deps.log.child({ node: t.node.name }), progress, rolloutId, input, drains }).catch((err: Error): NodeOutcome => {
            // An error outside the switch and health steps (the driver could not arm, drain or
            // roll back): the node's state is unknown, so say so and stop the rollout.
            const detail = `${err.message}; its state is unknown: check it with skyrec status`;
            store.setNode({ node: t.node.name, revision: input.revision, generation: null, hash: null, status: 'unknown', detail });
            progress.update(t.node.name, 'failed', err.message);
            return { node: t.node.name, result: 'failed', generation: null, failures: [err.message], detail };
          }),
        ),
      );
      for (const r of results) outcomes.set(r.node, r);
      if (results.some((r) => r.result !== 'switched')) {
        failed = true;
        break;
      }
    }
  } finally {
    progress.done();
  }
  for (const t of changed) {
    if (!outcomes.has(t.node.name)) {
      outcomes.set(t.node.name, { node: t.node.name, result: 'not-started', generation: store.getNode(t.node.name)?.generation ?? null });
      progress.update(t.node.name, 'skipped', stopped ? 'not started: skyrec was asked to stop' : 'not started: the rollout stopped');
    }
  }
  const failures = [...outcomes.values()].filter((o) => o.result !== 'switched' && o.result !== 'not-started');
  if (failed) {
    store.markRevisionFailed(input.revision, failures.map((f) => `${f.node}: ${f.failures?.join('; ') ?? f.detail}`).join(' | '));
  }
  const notStarted = [...outcomes.values()].filter((o) => o.result === 'not-started').map((o) => o.node);
  const outcome = failed ? 'failed' : stopped ? 'interrupted' : 'succeeded';
  const detail = failed ? failures.map((f) => f.node).join(', ') : stopped ? `stopped on request before ${notStarted.join(', ')}; the next apply switches them` : null;
  store.finishRollout(rolloutId, outcome, detail);
  return { rolloutId, outcome, nodes: [...input.targets.map((t) => outcomes.get(t.node.name) ?? unchanged.find((u) => u.node === t.node.name)!)] };
}

/**
 * The rollout's drains. An upstream counts as serving a route only when it is in the route both
 * before and after this revision: whichever an ingress runs at the moment, it is there. Each
 * ingress is told the routes it runs now: the new ones once it has switched in this rollout.
 */
export function drainSetFor(input: RolloutInput, deps: Pick<RolloutDeps, 'applied' | 'driver'> & Partial<Pick<RolloutDeps, 'log'>>): DrainSet & { switched(node: string): Promise<void> } {
  const address = new Map(input.targets.map((t) => [t.node.name, t.node.address]));
  const toDrain = (routes: RunRoute[]): DrainRoute[] =>
    routes.map((r) => ({ domain: r.domain, upstreams: r.upstreams.map((u) => ({ ...u, address: address.get(u.node) ?? u.node })) }));
  const target = new Map(input.targets.map((t) => [t.node.name, t]));
  const switchedIngress = new Set<string>();
  const routesNow = (node: string) => {
    const next = target.get(node)?.run.routes ?? [];
    return switchedIngress.has(node) ? next : (deps.applied.read(node)?.run.routes ?? next);
  };
  const before = new Map(input.ingress.flatMap((n) => deps.applied.read(n.name)?.run.routes ?? []).map((r) => [r.domain, r]));
  const after = input.ingress.length > 0 ? (target.get(input.ingress[0].name)?.run.routes ?? []) : [];
  const key = (u: { node: string; port: number }) => `${u.node}:${u.port}`;
  const serving = toDrain(
    after.map((r) => {
      const old = new Set((before.get(r.domain)?.upstreams ?? []).map(key));
      return { ...r, upstreams: r.upstreams.filter((u) => old.has(key(u))) };
    }),
  );
  // Only ingress nodes that run Caddy, applied before or switched in this rollout: a new one
  // has no admin API to call yet, and its first config has no instance out.
  const live = () => input.ingress.filter((n) => switchedIngress.has(n.name) || servesNow(deps, n));
  const apply = (drained: DrainRoute['upstreams']) => deps.driver.setDrained(live().map((n) => ({ node: n, routes: toDrain(routesNow(n.name)) })), drained);
  const set = new DrainSet(() => serving, apply, drainSettle(deps, () => live()));
  return Object.assign(set, {
    // An ingress that switched loaded its rendered config, every upstream in: drain again what is out.
    async switched(node: string) {
      if (!input.ingress.some((n) => n.name === node)) return;
      switchedIngress.add(node);
      if (set.list().length > 0) await apply(set.list());
    },
  });
}
