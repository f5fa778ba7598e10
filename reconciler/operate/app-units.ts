// Which units of an app run where, read from what each node last applied (the state
// directory's applied/<node>.json): `skyrec logs`, `ps` and `restart` need no checkout of the
// config repo. Pure: the applied nodes in, the app's units per node out, or a UsageError that
// names what exists.
import type { Node } from '../../schema/model.js';
import type { AppliedNode } from '../apply/rollout-model.js';
import type { RunInstance, RunProcess } from '../../generators/render-run-spec.js';
import { PASSWORD_SECRET } from '../../generators/addons.js';
import { UsageError } from '../../common/errors.js';

export interface AppUnit {
  /** The systemd unit without .service; cron units are one pattern (`shop-cron-*`). */
  unit: string;
  kind: 'instance' | 'release' | 'cron';
  /** web, worker, ... for instances; release or cron otherwise. */
  process: string;
  index: number | null;
  port: number | null;
  /** The instance as the rollout knows it (instances only). */
  instance?: RunInstance;
}

export interface AppOnNode {
  node: Node;
  units: AppUnit[];
}

export interface AppUnits {
  app: string;
  nodes: AppOnNode[];
  /** Secret names the app's processes read, addon passwords included: their values are masked. */
  secretNames: string[];
}

export interface UnitFilter {
  app: string;
  process?: string;
  instance?: number;
  node?: string;
  /** Whether the driver runs cron units (the local driver does not). Default true. */
  cron?: boolean;
}

/** Every app the applied nodes run, sorted. */
export function appliedApps(applied: AppliedNode[]): string[] {
  return [...new Set(applied.flatMap((a) => Object.keys(a.manifest.apps)))].sort();
}

/** The app's units on each node that runs it, narrowed by --process, --instance and --node. */
export function findAppUnits(applied: AppliedNode[], f: UnitFilter): AppUnits {
  const apps = appliedApps(applied);
  if (!apps.includes(f.app)) {
    throw new UsageError(applied.length === 0 ? `no node has been applied from this state directory, so there is no app '${f.app}'` : `no app '${f.app}' runs on the applied nodes; apps: ${apps.join(', ')}`, {
      hint: applied.length === 0 ? 'pass the --state and --driver that apply used' : undefined,
    });
  }
  const all = applied.filter((a) => a.manifest.apps[f.app]).map((a) => ({ node: a.node, units: unitsOf(a, f.app, f.cron ?? true) }));
  const processes = [...new Set(all.flatMap((n) => n.units.map((u) => u.process)))].sort();
  if (f.process !== undefined && !processes.includes(f.process)) throw new UsageError(`${f.app} has no process '${f.process}'; processes: ${processes.join(', ')}`);
  if (f.node !== undefined && !all.some((n) => n.node.name === f.node)) {
    throw new UsageError(`${f.app} does not run on node '${f.node}'; it runs on: ${all.map((n) => n.node.name).join(', ')}`);
  }
  const byProcess = all.map((n) => ({ ...n, units: n.units.filter((u) => f.process === undefined || u.process === f.process) }));
  if (f.instance !== undefined) {
    const indexes = [...new Set(byProcess.flatMap((n) => n.units.flatMap((u) => (u.index === null ? [] : [u.index]))))].sort((a, b) => a - b);
    if (!indexes.includes(f.instance)) throw new UsageError(`${f.app}${f.process ? ` ${f.process}` : ''} has no instance ${f.instance}; instances: ${indexes.join(', ') || 'none'}`);
  }
  const nodes = byProcess
    .filter((n) => f.node === undefined || n.node.name === f.node)
    .map((n) => ({ ...n, units: n.units.filter((u) => f.instance === undefined || u.index === f.instance) }))
    .filter((n) => n.units.length > 0);
  return { app: f.app, nodes, secretNames: secretNamesOf(applied, f.app) };
}

function unitsOf(a: AppliedNode, app: string, withCron: boolean): AppUnit[] {
  const instances: AppUnit[] = a.run.instances
    .filter((i) => i.app === app)
    .map((i) => ({ unit: i.unit, kind: 'instance', process: i.process, index: i.index, port: i.port, instance: i }));
  const release: AppUnit[] = a.run.releases.filter((r) => r.app === app).map((r) => ({ unit: r.unit, kind: 'release', process: 'release', index: null, port: null }));
  // Cron units live on the app's anchor node, named <app>-cron-<n> (generators/render-app.ts).
  // What is applied does not say how many an app has: a pattern, which may match none.
  const cron: AppUnit[] = withCron && a.manifest.apps[app]?.anchor ? [{ unit: `${app}-cron-*`, kind: 'cron', process: 'cron', index: null, port: null }] : [];
  return [...instances, ...release, ...cron];
}

function secretNamesOf(applied: AppliedNode[], app: string): string[] {
  const procs = applied.flatMap((a) => [...a.run.instances, ...a.run.releases]).filter((p) => p.app === app);
  const names = new Set(procs.flatMap((p) => p.secrets));
  if (procs.some((p) => p.addons.postgres?.password)) names.add(PASSWORD_SECRET.postgres);
  if (procs.some((p) => p.addons.redis?.password)) names.add(PASSWORD_SECRET.redis);
  return [...names].sort();
}

/** How a unit's lines are labelled: `web.2`, `release`, `cron.1`. */
export function labelOf(app: string, unit: string): string {
  const rest = unit.startsWith(`${app}-`) ? unit.slice(app.length + 1) : unit;
  if (rest === 'release') return 'release';
  const m = /^(.*)-(\d+)$/.exec(rest);
  return m ? `${m[1]}.${m[2]}` : rest;
}

/**
 * Where `skyrec run` runs and as which process: the given node, or the node running the app with
 * the fewest instances of any app (the least loaded); as the given process, else web, else the
 * first the node runs (its release when it runs no instance of the app).
 */
export function pickRunTarget(applied: AppliedNode[], units: AppUnits, processName?: string): { node: Node; process: RunProcess } {
  const load = (name: string) => applied.find((a) => a.node.name === name)?.run.instances.length ?? 0;
  const candidates = units.nodes.filter((n) => n.units.some((u) => u.kind !== 'cron'));
  if (candidates.length === 0) throw new UsageError(`${units.app} runs no process there to take the environment from`);
  const chosen = [...candidates].sort((a, b) => load(a.node.name) - load(b.node.name) || (a.node.name < b.node.name ? -1 : 1))[0];
  const instances = chosen.units.filter((u) => u.kind === 'instance' && (processName === undefined || u.process === processName));
  const pick = instances.find((u) => u.process === 'web') ?? instances[0];
  if (pick?.instance) return { node: chosen.node, process: pick.instance };
  const release = applied.find((a) => a.node.name === chosen.node.name)!.run.releases.find((r) => r.app === units.app);
  if (release) return { node: chosen.node, process: release };
  throw new UsageError(`${units.app} runs no process on ${chosen.node.name} to take the environment from`);
}
