// The events of one reconcile cycle and of drift checks, made where the reconciler learns them:
// deploy.started when a rollout begins (apply's progress is created then), and the end of the
// cycle from its outcome. Each call only queues rows (see notifier.ts): nothing here waits for a
// receiver.
import type { StateStore } from '../state/state-store.js';
import type { RunRecord } from '../state/reconciler-records.js';
import type { HeadOutcome } from '../daemon/apply-head.js';
import { makeEvent, shortRev, type EventInput } from './notify-event.js';
import type { NotifyConfig } from './notify-config.js';
import type { NotifyTarget } from './notify-targets.js';
import type { NotifyEvent } from './notify-event.js';
import type { Logger } from '../../common/log.js';

/** What the reconciler is given to notify with (ReconcileOptions.notify). */
export interface NotifyHook {
  branch: string;
  /** The targets of the first of these revisions whose fleet.yaml is valid (else the last valid ones). */
  config(dir: string, revisions: (string | null)[]): Promise<NotifyConfig>;
  emit(event: NotifyEvent, targets: NotifyTarget[]): void;
  log: Logger;
}

/** A notification that cannot be queued is logged; the cycle goes on as if there were none. */
function safely<A extends unknown[]>(hook: NotifyHook, fn: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      fn(...args);
    } catch (err) {
      hook.log.error({ err: (err as Error).message }, 'notification not queued');
    }
  };
}

export interface CycleEvents {
  started(nodes: string[]): void;
  finished(result: HeadOutcome, run: RunRecord, store: StateStore): void;
}

export async function cycleEvents(hook: NotifyHook, at: { dir: string; revision: string; fallback: string | null; runId: number }): Promise<CycleEvents> {
  const config = await hook.config(at.dir, [at.revision, at.fallback]);
  const send = (input: Omit<EventInput, 'runId' | 'revision'>) => hook.emit(makeEvent({ ...input, branch: hook.branch, revision: at.revision, runId: at.runId }, config.statusUrl), config.targets);
  const rev = shortRev(at.revision);
  let nodes: string[] | null = null;
  return {
    started: safely(hook, (changed: string[]) => {
      if (nodes) return;
      nodes = changed;
      send({ event: 'deploy.started', nodes: changed, summary: `skyrec is deploying ${rev} to ${changed.length} node(s)` });
    }),
    finished: safely(hook, (result: HeadOutcome, run: RunRecord, store: StateStore) => {
      const apps = result.apps ?? null;
      // A cycle folded into the one before (the same invalid revision found again) says nothing new.
      if (run.id !== at.runId) return;
      if (result.outcome === 'invalid') {
        const count = result.detail?.split('\n').length ?? 0;
        return send({ event: 'revision.invalid', nodes: [], summary: `${rev} is invalid (${count} problem(s)); not applied`, detail: result.detail });
      }
      if (!nodes) return;
      if (result.outcome === 'applied') return send({ event: 'deploy.applied', nodes, apps, summary: `skyrec applied ${rev} to ${nodes.length} node(s)` });
      if (result.outcome === 'error') return send({ event: 'deploy.error', nodes, apps, summary: `skyrec could not finish deploying ${rev}`, detail: result.detail });
      if (result.outcome !== 'failed') return;
      const steps = store.history(1)[0]?.steps ?? [];
      const failures = steps.filter((s) => s.outcome === 'failed' && s.kind !== 'rollback').map((s) => ({ node: s.node, detail: s.detail ?? 'failed' }));
      const rolledBack = [...new Set(steps.filter((s) => s.kind === 'rollback' && s.outcome === 'ok').map((s) => s.node))];
      const failed = failures.map((f) => f.node);
      send({ event: 'deploy.failed', nodes, apps, failures, summary: `deploy of ${rev} failed on ${failed.join(', ') || 'the fleet'}${rolledBack.length ? '; rolled back' : ''}`, detail: result.detail });
      if (rolledBack.length > 0) send({ event: 'deploy.rolled-back', nodes: rolledBack, apps, summary: `${rolledBack.join(', ')} rolled back to the previous generation after ${rev} failed` });
      if (store.failedRevision(at.revision)) send({ event: 'revision.quarantined', nodes, apps, summary: `${rev} is quarantined: not applied again until a newer commit or skyrec retry`, detail: result.detail });
    }),
  };
}

/** drift.found for nodes not drifted at the check before; drift.healed after a self-heal. */
export async function driftEvent(hook: NotifyHook, at: { dir: string; revision: string | null; runId: number | null }, input: { event: 'drift.found' | 'drift.healed'; nodes: string[]; detail: string | null }): Promise<void> {
  if (input.nodes.length === 0) return;
  const config = await hook.config(at.dir, [at.revision]);
  const summary = input.event === 'drift.found' ? `drift on ${input.nodes.join(', ')}: not what skyrec applied` : `drift healed on ${input.nodes.join(', ')}: ${shortRev(at.revision)} applied again`;
  safely(hook, () => hook.emit(makeEvent({ ...input, branch: hook.branch, revision: at.revision, runId: at.runId, summary }, config.statusUrl), config.targets))();
}
