// `skyrec ps`: every instance of every app (or one app) on every applied node, with its state now
// from the node's driver; each app's release and cron with their last result. All nodes are asked
// in parallel; one that does not answer is listed as unreachable, never left out.
import type { NodeDriver } from '../../fleet/node/driver.js';
import { unitPattern, type UnitStatus } from '../../fleet/node/operate.js';
import type { AppliedNode } from '../apply/rollout-model.js';
import { appliedApps, findAppUnits, labelOf, type AppUnit } from './app-units.js';
import { SkyrecError } from '../../common/errors.js';

export interface PsRow {
  app: string;
  /** web.2, release, cron.1 */
  process: string;
  kind: AppUnit['kind'];
  node: string;
  unit: string;
  port: number | null;
  /** active, failed, activating, inactive, ...; unreachable when the node did not answer. */
  state: string;
  since: string | null;
  restarts: number | null;
  memoryBytes: number | null;
  cpuSeconds: number | null;
  /** Release and cron: the last run's result (success, exit-code, ...), null when not known. */
  result: string | null;
  /** Why the state is unreachable. */
  error?: string;
}

export async function listProcesses(driver: NodeDriver, applied: AppliedNode[], app?: string): Promise<PsRow[]> {
  if (!driver.unitStatus) throw new SkyrecError(`the ${driver.kind} driver cannot report unit states`);
  const apps = app === undefined ? appliedApps(applied) : [app];
  const perApp = apps.map((a) => findAppUnits(applied, { app: a, cron: driver.kind !== 'local' }));
  // One question per node, for all the apps' units on it.
  const nodes = [...new Map(perApp.flatMap((p) => p.nodes.map((n) => [n.node.name, n.node]))).values()];
  type Answer = { statuses: UnitStatus[] } | { error: string };
  const answers = new Map<string, Answer>(
    await Promise.all(
      nodes.map(async (node) => {
        const units = perApp.flatMap((p) => p.nodes.filter((n) => n.node.name === node.name).flatMap((n) => n.units.map((u) => u.unit)));
        try {
          return [node.name, { statuses: await driver.unitStatus!(node, units) }] as [string, Answer];
        } catch (err) {
          return [node.name, { error: (err as Error).message }] as [string, Answer];
        }
      }),
    ),
  );
  const rows: PsRow[] = [];
  for (const p of perApp) {
    for (const { node, units } of p.nodes) {
      const answer = answers.get(node.name)!;
      for (const u of units) {
        const base = { app: p.app, kind: u.kind, node: node.name, port: u.port };
        if ('error' in answer) {
          rows.push({ ...base, process: labelOf(p.app, u.unit), unit: u.unit, state: 'unreachable', since: null, restarts: null, memoryBytes: null, cpuSeconds: null, result: null, error: answer.error });
          continue;
        }
        const pattern = unitPattern(u.unit);
        const matching: UnitStatus[] = answer.statuses.filter((s) => pattern.test(s.unit));
        for (const s of matching) {
          rows.push({ ...base, process: labelOf(p.app, s.unit), unit: s.unit, state: s.state, since: s.since, restarts: s.restarts, memoryBytes: s.memoryBytes, cpuSeconds: s.cpuSeconds, result: u.kind === 'instance' ? null : (s.result ?? null) });
        }
      }
    }
  }
  return rows;
}

const mib = (b: number | null) => (b === null ? '-' : `${(b / 1024 / 1024).toFixed(1)}M`);
const cpu = (s: number | null) => (s === null ? '-' : `${s.toFixed(2)}s`);
const ago = (iso: string | null, now: number) => {
  if (iso === null) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : s < 172_800 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86_400)}d ago`;
};

/** A table for a terminal: one row per instance, release and cron unit. */
export function formatPs(rows: PsRow[], now = Date.now()): string[] {
  if (rows.length === 0) return ['No app runs on the applied nodes.'];
  const head = ['APP', 'PROCESS', 'NODE', 'PORT', 'STATE', 'SINCE', 'RESTARTS', 'MEMORY', 'CPU', 'RESULT'];
  const body = rows.map((r) => [
    r.app, r.process, r.node, r.port === null ? '-' : String(r.port), r.state, ago(r.since, now), r.restarts === null ? '-' : String(r.restarts),
    mib(r.memoryBytes), cpu(r.cpuSeconds), r.kind === 'instance' ? '' : (r.result ?? '-'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const errors = [...new Map(rows.filter((r) => r.error).map((r) => [r.node, r.error!])).entries()].map(([n, e]) => `${n}: unreachable: ${e}`);
  return [line(head), ...body.map(line), ...(errors.length ? ['', ...errors] : [])];
}
