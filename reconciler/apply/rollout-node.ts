// One node of a rollout: drain what the switch stops, switch, restart the changed web instances
// one at a time (each out of the ingress while it restarts, back once its own health check
// passes), check the node and its domains, and on failure switch back to the generation it had,
// restarting the web instances the same way. Every step is recorded as it happens.
import type { Node } from '../../schema/model.js';
import type { NodeTarget, Upstream } from '../../fleet/node/driver.js';
import type { RunInstance } from '../../generators/render-run-spec.js';
import { waitHealthy } from '../../fleet/node/health.js';
import type { DrainSet } from './drain.js';
import type { Progress } from '../../common/progress.js';
import type { AppliedNode, NodeOutcome, RolloutDeps, RolloutInput } from './rollout-model.js';

export type SwitchContext = Omit<RolloutDeps, 'progress'> & {
  progress: Progress;
  rolloutId: number;
  input: RolloutInput;
  drains: DrainSet & { switched(node: string): Promise<void> };
};

const upstreamOf = (node: Node, inst: RunInstance): Upstream => ({ node: node.name, address: node.address, port: inst.port });
const webUnits = (instances: RunInstance[]) => instances.filter((i) => i.process === 'web').map((i) => i.unit);

/**
 * Restarts `units` one after another. A web instance leaves the ingress first (unless it is the
 * only one serving its route) and comes back once its own health check passes; one that fails
 * stays out and its failures are returned (the rest are not restarted).
 * @param running the instances as they run now (their ports are what the ingress proxies to)
 * @param next the instances as they run after the restart (their health checks decide)
 */
export async function restartRolling(ctx: SwitchContext, target: NodeTarget, units: string[], running: RunInstance[], next: RunInstance[], held: Upstream[]): Promise<string[]> {
  const { driver, drains, progress, input } = ctx;
  const node = target.node;
  const sorted = [...units].sort();
  // The instance restarted last goes back into the ingress with the next one's drain: one reload.
  let healthy: Upstream | undefined;
  for (const [k, unit] of sorted.entries()) {
    const now = running.find((i) => i.unit === unit);
    const after = next.find((i) => i.unit === unit);
    const upstream = now && now.process === 'web' ? upstreamOf(node, now) : null;
    let drained: Upstream | null = null;
    if (upstream !== null) drained = (await drains.take(upstream, healthy)) ? upstream : null;
    else if (healthy) await drains.release(healthy);
    healthy = undefined;
    progress.update(node.name, 'switching', `restarting ${unit} (${k + 1} of ${sorted.length})${upstream && !drained ? ', the only instance serving its domains' : ''}`);
    try {
      await driver.restartUnit(node, unit);
    } catch (err) {
      if (drained) held.push(drained); // back into the ingress once the rollback is done
      throw err;
    }
    const health = after ? await waitHealthy(driver, { ...target, run: { ...target.run, instances: [after], routesOfNode: [] } }, [], input.rollout.healthTimeoutMs) : { healthy: true, failures: [] };
    if (!health.healthy) {
      // It stays out of the ingress until the rollback has it healthy again.
      if (drained) held.push(drained);
      return health.failures;
    }
    healthy = drained ?? undefined;
  }
  if (healthy) await drains.release(healthy);
  return [];
}

export async function switchOne(target: NodeTarget, ctx: SwitchContext): Promise<NodeOutcome> {
  const { driver, store, progress, input, log, drains } = ctx;
  const name = target.node.name;
  const previous = await driver.currentGeneration(target.node);
  const record = (status: 'switching' | 'checking' | 'healthy' | 'failed' | 'rolled-back', generation: number | null, hash: string | null, detail: string | null) => ({
    node: name, revision: input.revision, generation, hash, status, detail,
  });
  const before = store.getNode(name);
  const last = before && before.status === 'healthy' ? { revision: before.revision, hash: before.hash } : null;
  // Each commit is durable (an fsync): the step and the node's state go in one, as they belong together.
  const step = store.transaction(() => {
    store.setNode({ ...(before ?? record('switching', previous, null, null)), status: 'switching', generation: previous, detail: null });
    return store.startStep({ rolloutId: ctx.rolloutId, node: name, kind: 'switch', generation: previous });
  });

  // Web instances the switch stops leave the ingress first (kamal-proxy's drain); changed ones
  // keep running through the switch and are restarted one at a time after it.
  const applied = ctx.applied.read(name);
  const running = applied?.run.instances ?? [];
  const held: Upstream[] = [];
  const kept = new Set(target.run.instances.map((i) => i.unit));
  for (const inst of running) {
    if (inst.process !== 'web' || kept.has(inst.unit)) continue;
    const u = upstreamOf(target.node, inst);
    if (await drains.take(u)) held.push(u);
  }
  const undrain = async () => {
    for (const u of held.splice(0)) await drains.release(u);
  };

  const timeout = input.rollout.healthTimeoutMs;
  await driver.disarmRollback(target.node); // a watchdog left by an interrupted apply
  await driver.armRollback(target.node, previous, timeout * (target.run.instances.length + 2) + 30_000, webUnits(running));
  let generation: number;
  let failures: string[];
  try {
    progress.update(name, 'switching', previous === null ? 'first generation' : `from generation ${previous}`);
    const result = await driver.switchNode(target, ctx.sources);
    generation = result.generation;
    await drains.switched(name);
    failures = await restartRolling(ctx, target, result.deferred, running, target.run.instances, held);
  } catch (err) {
    const detail = `switch failed: ${(err as Error).message}`;
    store.finishStep(step, 'failed', detail, null);
    return rollBack(target, ctx, previous, [detail], undrain, last, held);
  }
  if (failures.length > 0) {
    store.finishStep(step, 'failed', failures.join('; '), null);
    return rollBack(target, ctx, previous, failures, undrain, last, held);
  }
  const check = store.transaction(() => {
    store.finishStep(step, 'ok', `generation ${generation}`, record('checking', generation, target.rendered.manifest.hash, null));
    return store.startStep({ rolloutId: ctx.rolloutId, node: name, kind: 'health', generation });
  });
  progress.update(name, 'checking', `generation ${generation}`);
  // First the node's own instances and units; then, with its instances back in the ingress,
  // its domains through every ingress node that serves (one never applied yet, or stopped since,
  // has nothing to ask: a first rollout switches data nodes before the ingress).
  const started = performance.now();
  let health = await waitHealthy(driver, target, [], timeout);
  if (health.healthy) {
    await undrain();
    const serving = input.ingress.filter((n) => n.name === name || servesNow(ctx, n));
    health = await waitHealthy(driver, target, serving, timeout - (performance.now() - started));
  }
  health.ms = Math.round(performance.now() - started);
  if (!health.healthy) {
    store.finishStep(check, 'failed', health.failures.join('; '), null);
    return rollBack(target, ctx, previous, health.failures, undrain, last, held);
  }
  await driver.disarmRollback(target.node);
  ctx.applied.write(name, { node: target.node, manifest: target.rendered.manifest, run: target.run });
  store.finishStep(check, 'ok', `healthy after ${health.ms} ms`, record('healthy', generation, target.rendered.manifest.hash, null));
  progress.update(name, 'healthy', `generation ${generation}`);
  log.info({ generation, ms: health.ms }, 'switched');
  return { node: name, result: 'switched', generation };
}

async function rollBack(
  target: NodeTarget,
  ctx: SwitchContext,
  previous: number | null,
  failures: string[],
  undrain: () => Promise<void>,
  before: { revision: string | null; hash: string | null } | null,
  held: Upstream[],
): Promise<NodeOutcome> {
  const { driver, store, progress, input } = ctx;
  const name = target.node.name;
  const autoRollback = input.rollout.autoRollback && target.run.instances.every((i) => i.autoRollback);
  if (!autoRollback || previous === null) {
    await driver.disarmRollback(target.node);
    await undrain();
    const why = previous === null ? 'no earlier generation to go back to' : 'autoRollback is off';
    store.setNode({ node: name, revision: input.revision, generation: await driver.currentGeneration(target.node), hash: target.rendered.manifest.hash, status: 'failed', detail: `${failures.join('; ')} (${why})` });
    progress.update(name, 'failed', failures[0]);
    return { node: name, result: 'failed', generation: null, failures, detail: why };
  }
  progress.update(name, 'rolling back', `to generation ${previous}: ${failures[0]}`);
  const step = store.startStep({ rolloutId: ctx.rolloutId, node: name, kind: 'rollback', generation: previous });
  const applied: AppliedNode | null = ctx.applied.read(name);
  const deferred = await driver.rollbackNode(target.node, previous, webUnits(target.run.instances));
  // The restored web instances restart as they started: one at a time, out of the ingress.
  const restartFailures = await restartRolling(ctx, target, deferred, target.run.instances, applied?.run.instances ?? [], held);
  await driver.disarmRollback(target.node);
  // The node is back on what it ran before: check that it is healthy again, as it was.
  const recheck = applied ? await waitHealthy(driver, { ...target, run: applied.run }, input.ingress.filter((n) => servesNow(ctx, n)), input.rollout.healthTimeoutMs) : { healthy: true, failures: [] };
  await undrain();
  const problems = [...restartFailures, ...(recheck.healthy ? [] : recheck.failures)];
  const restored = `restored generation ${previous}${problems.length === 0 ? ', healthy again' : `, but it is not healthy: ${problems.join('; ')}`}`;
  const detail = `health checks failed: ${failures.join('; ')}; ${restored}`;
  store.finishStep(step, problems.length === 0 ? 'ok' : 'failed', detail, { node: name, revision: before?.revision ?? null, generation: previous, hash: before?.hash ?? null, status: 'rolled-back', detail });
  progress.update(name, 'rolled back', restored);
  return { node: name, result: 'rolled-back', generation: previous, failures, detail: restored };
}

/** An ingress node that proxies now: applied before, and (local driver) not stopped since. */
export function servesNow(ctx: Pick<RolloutDeps, 'applied' | 'driver'>, node: Node): boolean {
  return (ctx.applied.has?.(node.name) ?? ctx.applied.read(node.name) !== null) && ctx.driver.stopped?.(node) !== true;
}
