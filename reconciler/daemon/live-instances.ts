// Each instance's state now on the status page, /api/status and /metrics, from the same source as
// `skyrec ps` (reconciler/operate/ps.ts: the driver's unitStatus, every node in parallel). Reading
// it never holds up a page or a scrape for long: each node gets at most `nodeTimeoutMs`, a node
// still silent after that is shown as not answering, and its question is not asked again until
// the first one ends (a hung ssh never piles up). One answer serves every request for `cacheMs`.
// The reconcile loop is untouched: its cycles run in their own process and this only reads.
import type { Node } from '../../schema/model.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { UnitStatus } from '../../fleet/node/operate.js';
import type { AppliedNode } from '../apply/rollout-model.js';
import { listProcesses, type PsRow } from '../operate/ps.js';
import type { DaemonStatus, InstanceLive } from './status-model.js';

export interface LiveInstancesOptions {
  driver: NodeDriver;
  /** What each node last applied (the state directory's applied/*.json). */
  applied: () => AppliedNode[];
  nodeTimeoutMs?: number;
  cacheMs?: number;
  now?: () => number;
}

export interface LiveInstances {
  /** `status` with each instance's `live` filled in. Resolves within about nodeTimeoutMs. */
  decorate(status: DaemonStatus): Promise<DaemonStatus>;
}

const NODE_TIMEOUT_MS = 2000;
const CACHE_MS = 2000;

/** `<app>/<process>.<index>@<node>`: how an instance of the status and a ps row meet. */
const keyOf = (app: string, label: string, node: string) => `${app}/${label}@${node}`;

export function createLiveInstances(opts: LiveInstancesOptions): LiveInstances {
  const now = opts.now ?? Date.now;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? NODE_TIMEOUT_MS;
  const cacheMs = opts.cacheMs ?? CACHE_MS;
  const bounded = boundUnitStatus(opts.driver, nodeTimeoutMs, now);
  let cached: { at: number; rows: Map<string, InstanceLive> } | null = null;
  let inFlight: Promise<Map<string, InstanceLive>> | null = null;

  const refresh = async (): Promise<Map<string, InstanceLive>> => {
    const rows = await listProcesses({ ...opts.driver, unitStatus: bounded }, opts.applied());
    const at = new Date(now()).toISOString();
    const byKey = new Map(rows.filter((r) => r.kind === 'instance').map((r) => [keyOf(r.app, r.process, r.node), liveOf(r, at)]));
    cached = { at: now(), rows: byKey };
    return byKey;
  };

  const rows = async (): Promise<Map<string, InstanceLive> | null> => {
    if (!opts.driver.unitStatus) return null;
    if (cached && now() - cached.at < cacheMs) return cached.rows;
    inFlight ??= refresh().finally(() => (inFlight = null));
    return inFlight;
  };

  return {
    async decorate(status) {
      if (status.apps.every((a) => a.instances.length === 0)) return status;
      let live: Map<string, InstanceLive> | null;
      try {
        live = await rows();
      } catch (err) {
        // No applied files readable, say: every instance unknown, the page still answers.
        const error = (err as Error).message;
        live = new Map(status.apps.flatMap((a) => a.instances.map((i) => [keyOf(a.name, `${i.process}.${i.index}`, i.node), unreachable(error)])));
      }
      if (live === null) return status;
      const found = live;
      return {
        ...status,
        apps: status.apps.map((a) => ({
          ...a,
          instances: a.instances.map((i) => ({ ...i, live: found.get(keyOf(a.name, `${i.process}.${i.index}`, i.node)) ?? { state: 'unknown', since: null, restarts: null, memoryBytes: null, checkedAt: null } })),
        })),
      };
    },
  };
}

function liveOf(r: PsRow, at: string): InstanceLive {
  if (r.state === 'unreachable') return unreachable(r.error ?? 'no answer');
  return { state: r.state, since: r.since, restarts: r.restarts, memoryBytes: r.memoryBytes, checkedAt: at };
}

const unreachable = (error: string): InstanceLive => ({ state: 'unreachable', since: null, restarts: null, memoryBytes: null, checkedAt: null, error });

/**
 * The driver's unitStatus with a deadline per node. A question that outlives its deadline keeps
 * running; asking that node again meanwhile waits for the same question (so no second ssh), and
 * once it is older than the deadline fails at once rather than waiting again.
 */
export function boundUnitStatus(driver: NodeDriver, timeoutMs: number, now: () => number = Date.now): (node: Node, units: string[]) => Promise<UnitStatus[]> {
  const pending = new Map<string, { since: number; answer: Promise<UnitStatus[]> }>();
  return (node, units) => {
    const key = `${node.name}\n${units.join('\n')}`;
    let p = pending.get(key);
    if (!p) {
      const answer = driver.unitStatus!(node, units).finally(() => pending.delete(key));
      answer.catch(() => undefined);
      pending.set(key, (p = { since: now(), answer }));
    }
    const left = p.since + timeoutMs - now();
    const silent = () => new Error(`no answer within ${Math.round(timeoutMs / 100) / 10} s${left <= 0 ? ` (asked ${Math.round((now() - p!.since) / 1000)} s ago)` : ''}`);
    if (left <= 0) return Promise.reject(silent());
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(silent()), left)));
    return Promise.race([p.answer, deadline]).finally(() => clearTimeout(timer));
  };
}
