// The rollout engine: switches the nodes whose rendered hash changed, canaries first, then
// batches of maxParallel, each batch only after the previous one is healthy. A node that fails
// its health checks is switched back to the generation it had, checked again, and the rollout
// stops; the revision is recorded as failed. Every step is recorded as it happens, so that an
// apply killed half-way is finished correctly by the next one.
import type { Node, Settings } from '../schema/model.js';
import type { NodeDriver, NodeTarget, SourceReader } from '../fleet/driver.js';
import { waitHealthy } from '../fleet/health.js';
import type { StateStore } from './state-store.js';
import type { Progress } from './progress.js';
import type { Logger } from './log.js';

export interface RolloutInput {
  /** The key failures are recorded under: a commit id, or a digest of a working tree's render. */
  revision: string;
  /** Every node of the fleet, in fleet.yaml order (the ones that did not change are skipped). */
  targets: NodeTarget[];
  ingress: Node[];
  rollout: Settings['rollout'];
}

/** What a node last ran healthy: read back to check a node after a rollback, and to keep placement. */
export interface AppliedNode {
  node: Node;
  manifest: NodeTarget['rendered']['manifest'];
  local: NodeTarget['local'];
}

export interface AppliedStore {
  read(node: string): AppliedNode | null;
  write(node: string, applied: AppliedNode): void;
}

export interface RolloutDeps {
  applied: AppliedStore;
  driver: NodeDriver;
  store: StateStore;
  sources: SourceReader;
  log: Logger;
  progress: (nodes: string[]) => Progress;
}

export interface NodeOutcome {
  node: string;
  result: 'switched' | 'rolled-back' | 'failed' | 'not-started' | 'unchanged';
  generation: number | null;
  failures?: string[];
  detail?: string;
}

export interface RolloutResult {
  rolloutId: number | null;
  outcome: 'succeeded' | 'failed' | 'noop';
  nodes: NodeOutcome[];
}

/** Nodes to switch: the rendered hash differs from what the node last applied, or its last apply did not finish healthy. */
export function selectChanged(targets: NodeTarget[], store: StateStore): NodeTarget[] {
  return targets.filter((t) => {
    const rec = store.getNode(t.node.name);
    return !rec || rec.hash !== t.rendered.manifest.hash || rec.status !== 'healthy';
  });
}

/** Canaries alone (one batch each), then batches of maxParallel. */
export function orderBatches<T>(nodes: T[], rollout: { canary: number; maxParallel: number }): T[][] {
  const canaries = nodes.slice(0, rollout.canary).map((n) => [n]);
  const rest = nodes.slice(rollout.canary);
  const batches: T[][] = [];
  for (let i = 0; i < rest.length; i += rollout.maxParallel) batches.push(rest.slice(i, i + rollout.maxParallel));
  return [...canaries, ...batches];
}

export async function runRollout(input: RolloutInput, deps: RolloutDeps): Promise<RolloutResult> {
  const { store, log } = deps;
  const interrupted = store.unfinishedRollout();
  if (interrupted) {
    store.finishRollout(interrupted.id, 'interrupted', 'the apply process stopped before the rollout finished; a later apply finished it');
    log.warn({ rollout: interrupted.id }, 'resuming an interrupted rollout');
  }
  const changed = selectChanged(input.targets, store);
  const unchanged: NodeOutcome[] = input.targets.filter((t) => !changed.includes(t)).map((t) => ({ node: t.node.name, result: 'unchanged', generation: store.getNode(t.node.name)?.generation ?? null }));
  if (changed.length === 0) return { rolloutId: null, outcome: 'noop', nodes: unchanged };

  const batches = orderBatches(changed, input.rollout);
  const rolloutId = store.beginRollout({ revision: input.revision, driver: deps.driver.kind, nodes: changed.map((t) => t.node.name) });
  const progress = deps.progress(changed.map((t) => t.node.name));
  const outcomes = new Map<string, NodeOutcome>();
  const drained: { node: string; port: number }[] = [];
  let failed = false;
  try {
    for (const batch of batches) {
      const results = await Promise.all(
        batch.map((t) =>
          switchOne(t, { ...deps, progress, rolloutId, input, drained }).catch((err: Error): NodeOutcome => {
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
      progress.update(t.node.name, 'skipped', 'not started: the rollout stopped');
    }
  }
  const failures = [...outcomes.values()].filter((o) => o.result !== 'switched' && o.result !== 'not-started');
  if (failed) {
    store.markRevisionFailed(input.revision, failures.map((f) => `${f.node}: ${f.failures?.join('; ') ?? f.detail}`).join(' | '));
  }
  store.finishRollout(rolloutId, failed ? 'failed' : 'succeeded', failed ? failures.map((f) => f.node).join(', ') : null);
  return { rolloutId, outcome: failed ? 'failed' : 'succeeded', nodes: [...input.targets.map((t) => outcomes.get(t.node.name) ?? unchanged.find((u) => u.node === t.node.name)!)] };
}

type SwitchContext = Omit<RolloutDeps, 'progress'> & { progress: Progress; rolloutId: number; input: RolloutInput; drained: { node: string; port: number }[] };

/**
 * The web upstreams of a node that the switch stops or restarts (those whose run spec changes
 * or goes away): they leave the ingress first, so no request reaches a stopping instance.
 */
function restartingUpstreams(target: NodeTarget, applied: AppliedNode | null): { node: string; port: number }[] {
  if (!applied) return [];
  const next = new Map(target.local.instances.map((i) => [i.unit, JSON.stringify(i)]));
  return applied.local.instances
    .filter((i) => i.process === 'web' && next.get(i.unit) !== JSON.stringify(i))
    .map((i) => ({ node: target.node.name, port: i.port }));
}

async function switchOne(target: NodeTarget, ctx: SwitchContext): Promise<NodeOutcome> {
  const { driver, store, progress, input, log } = ctx;
  const name = target.node.name;
  const previous = await driver.currentGeneration(target.node);
  const record = (status: 'switching' | 'checking' | 'healthy' | 'failed' | 'rolled-back', generation: number | null, hash: string | null, detail: string | null) => ({
    node: name, revision: input.revision, generation, hash, status, detail,
  });
  const before = store.getNode(name);
  const last = before && before.status === 'healthy' ? { revision: before.revision, hash: before.hash } : null;
  const step = store.startStep({ rolloutId: ctx.rolloutId, node: name, kind: 'switch', generation: previous });
  store.setNode({ ...(before ?? record('switching', previous, null, null)), status: 'switching', generation: previous, detail: null });

  // Take this node's instances out of the ingress while they restart (kamal-proxy's drain).
  const mine = restartingUpstreams(target, ctx.applied.read(name));
  if (mine.length > 0) {
    ctx.drained.push(...mine);
    await driver.setDrained(input.ingress, ctx.drained);
  }
  let drained = mine.length > 0;
  const undrain = async () => {
    if (!drained) return;
    drained = false;
    for (const u of mine) ctx.drained.splice(ctx.drained.findIndex((d) => d.node === u.node && d.port === u.port), 1);
    await driver.setDrained(input.ingress, ctx.drained);
  };

  const timeout = input.rollout.healthTimeoutMs;
  await driver.disarmRollback(target.node); // a watchdog left by an interrupted apply
  await driver.armRollback(target.node, previous, timeout * 2 + 30_000);
  let generation: number;
  try {
    progress.update(name, 'switching', previous === null ? 'first generation' : `from generation ${previous}`);
    generation = await driver.switchNode(target, ctx.sources);
  } catch (err) {
    const detail = `switch failed: ${(err as Error).message}`;
    store.finishStep(step, 'failed', detail, null);
    return rollBack(target, ctx, previous, [detail], undrain, last);
  }
  store.finishStep(step, 'ok', `generation ${generation}`, record('checking', generation, target.rendered.manifest.hash, null));

  progress.update(name, 'checking', `generation ${generation}`);
  const check = store.startStep({ rolloutId: ctx.rolloutId, node: name, kind: 'health', generation });
  // First the node's own instances and units; then, with its instances back in the ingress,
  // its domains through every ingress node.
  const started = performance.now();
  let health = await waitHealthy(driver, target, [], timeout);
  if (health.healthy) {
    await undrain();
    health = await waitHealthy(driver, target, input.ingress, timeout - (performance.now() - started));
  }
  health.ms = Math.round(performance.now() - started);
  if (!health.healthy) {
    store.finishStep(check, 'failed', health.failures.join('; '), null);
    return rollBack(target, ctx, previous, health.failures, undrain, last);
  }
  await driver.disarmRollback(target.node);
  ctx.applied.write(name, { node: target.node, manifest: target.rendered.manifest, local: target.local });
  store.finishStep(check, 'ok', `healthy after ${health.ms} ms`, record('healthy', generation, target.rendered.manifest.hash, null));
  progress.update(name, 'healthy', `generation ${generation}`);
  log.info({ node: name, generation, ms: health.ms }, 'switched');
  return { node: name, result: 'switched', generation };
}

async function rollBack(target: NodeTarget, ctx: SwitchContext, previous: number | null, failures: string[], undrain: () => Promise<void>, before: { revision: string | null; hash: string | null } | null): Promise<NodeOutcome> {
  const { driver, store, progress, input } = ctx;
  const name = target.node.name;
  const autoRollback = input.rollout.autoRollback && target.local.instances.every((i) => i.autoRollback);
  if (!autoRollback || previous === null) {
    await driver.disarmRollback(target.node);
    const why = previous === null ? 'no earlier generation to go back to' : 'autoRollback is off';
    store.setNode({ node: name, revision: input.revision, generation: await driver.currentGeneration(target.node), hash: target.rendered.manifest.hash, status: 'failed', detail: `${failures.join('; ')} (${why})` });
    progress.update(name, 'failed', failures[0]);
    return { node: name, result: 'failed', generation: null, failures, detail: why };
  }
  progress.update(name, 'rolling back', `to generation ${previous}: ${failures[0]}`);
  const step = store.startStep({ rolloutId: ctx.rolloutId, node: name, kind: 'rollback', generation: previous });
  await driver.rollbackNode(target.node, previous);
  await driver.disarmRollback(target.node);
  // The node is back on what it ran before: check that it is healthy again, as it was.
  const applied = ctx.applied.read(name);
  const recheck = applied ? await waitHealthy(driver, { ...target, local: applied.local }, input.ingress, input.rollout.healthTimeoutMs) : { healthy: true, failures: [] };
  await undrain();
  const restored = `restored generation ${previous}${recheck.healthy ? ', healthy again' : `, but it is not healthy: ${recheck.failures.join('; ')}`}`;
  const detail = `health checks failed: ${failures.join('; ')}; ${restored}`;
  store.finishStep(step, recheck.healthy ? 'ok' : 'failed', detail, { node: name, revision: before?.revision ?? null, generation: previous, hash: before?.hash ?? null, status: 'rolled-back', detail });
  progress.update(name, 'rolled back', restored);
  return { node: name, result: 'rolled-back', generation: previous, failures, detail: restored };
}
