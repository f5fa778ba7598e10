// Drift: a node whose active generation or rendered config is no longer what skyrec last applied
// to it (someone ran nixos-rebuild or switched generations by hand). Found by asking each node
// what it runs and comparing with the state store; reported in status, metrics and the log;
// with --self-heal, the drifted nodes get the last applied revision again.
import { openApplied } from '../apply/applied.js';
import { createDriver } from '../apply/create-driver.js';
import { StateStore } from '../state/state-store.js';
import { type NodeDrift, type RunRecord } from '../state/reconciler-records.js';
import { driverOptionsOf, repoDirOf, runApplyHead, type ReconcileOptions } from './reconcile.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { driftEvent } from '../notify/cycle-events.js';

/** Statuses whose record says what the node runs; a node mid-rollout or in an unknown state is not compared. */
const SETTLED = new Set(['healthy', 'rolled-back']);

/** Asks every node skyrec has applied what it runs; records and returns the ones that drifted. */
export async function checkDrift(opts: ReconcileOptions): Promise<NodeDrift[]> {
  const driver: NodeDriver = opts.driverImpl ?? createDriver(opts, opts.log);
  const store = StateStore.open(opts.stateDir);
  try {
    const found: Omit<NodeDrift, 'detectedAt'>[] = [];
    for (const { node } of openApplied(opts.stateDir).all()) {
      const rec = store.getNode(node.name);
      if (!rec || !SETTLED.has(rec.status)) continue;
      const expected = { generation: rec.generation, hash: rec.hash };
      let now: { generation: number | null; hash: string | null };
      try {
        now = await driver.inspectNode(node);
      } catch (err) {
        found.push({ node: node.name, expected, found: { generation: null, hash: null }, detail: `cannot be inspected: ${(err as Error).message}` });
        continue;
      }
      const reasons = [
        ...(now.generation !== expected.generation ? [`generation ${now.generation ?? 'none'} is active, skyrec applied ${expected.generation ?? 'none'}`] : []),
        ...(expected.hash !== null && now.hash !== expected.hash ? [`its rendered config ${now.hash ? `has hash ${now.hash.slice(0, 12)}` : 'is not skyrec’s'}, skyrec applied ${expected.hash.slice(0, 12)}`] : []),
      ];
      if (reasons.length > 0) found.push({ node: node.name, expected, found: now, detail: reasons.join('; ') });
    }
    const known = new Set(store.reconciler.drift().map((d) => d.node));
    store.reconciler.setDrift(found);
    for (const d of found) opts.log.warn({ node: d.node, expected: d.expected, found: d.found }, `drift: ${d.detail}`);
    const fresh = found.filter((d) => !known.has(d.node));
    if (opts.notify) await driftEvent(opts.notify, { dir: repoDirOf(opts), revision: store.reconciler.lastSuccess()?.revision ?? null, runId: null }, { event: 'drift.found', nodes: fresh.map((d) => d.node), detail: fresh.map((d) => `${d.node}: ${d.detail}`).join('\n') || null });
    return store.reconciler.drift();
  } finally {
    store.close();
  }
}

/**
 * Re-applies the last revision the reconciler applied to the drifted nodes that can be reached.
 * Returns the recorded run, or null when there is nothing to heal.
 */
export async function healDrift(opts: ReconcileOptions, drift: NodeDrift[]): Promise<RunRecord | null> {
  const nodes = drift.filter((d) => !d.detail.startsWith('cannot be inspected')).map((d) => d.node);
  if (nodes.length === 0) return null;
  const store = StateStore.open(opts.stateDir);
  const id = store.reconciler.startRun();
  const log = opts.log.child({ runId: id, heal: nodes });
  const revision = store.reconciler.lastSuccess()?.revision ?? null;
  try {
    if (!revision) {
      log.warn('drift not healed: the reconciler has applied no revision yet');
      return store.reconciler.finishRun(id, { revision, outcome: 'error', detail: `self-heal: nothing to restore ${nodes.join(', ')} to, no revision applied by the reconciler yet` });
    }
    // The record no longer says what the node runs: mark it so that the apply switches it again.
    for (const d of drift.filter((x) => nodes.includes(x.node))) {
      const rec = store.getNode(d.node);
      if (rec) store.setNode({ ...rec, status: 'unknown', detail: `drifted: ${d.detail}` });
    }
    log.info('self-heal: re-applying the last applied revision');
    const result = await runApplyHead(opts, { dir: repoDirOf(opts), revision, before: null, nodes, ...driverOptionsOf(opts) }, log);
    const ok = result.outcome === 'applied' || result.outcome === 'unchanged';
    if (ok) for (const n of nodes) store.reconciler.clearDrift(n);
    if (ok && opts.notify) await driftEvent(opts.notify, { dir: repoDirOf(opts), revision, runId: id }, { event: 'drift.healed', nodes, detail: null });
    return store.reconciler.finishRun(id, { revision, outcome: ok ? 'applied' : result.outcome, detail: `self-heal of ${nodes.join(', ')}: ${ok ? 're-applied' : result.detail}` });
  } catch (err) {
    log.error({ err: (err as Error).message }, 'self-heal failed');
    return store.reconciler.finishRun(id, { revision, outcome: 'error', detail: `self-heal of ${nodes.join(', ')}: ${(err as Error).message}` });
  } finally {
    store.close();
  }
}
