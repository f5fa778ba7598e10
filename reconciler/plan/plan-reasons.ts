// Why a unit starts, restarts or stops, in words a reviewer reads in a plan. Values of env
// are not shown (only names), and secrets only ever appear as names.
import type { App, Config, Placement } from '../../schema/model.js';
import { routesOf } from '../../generators/routes.js';
import { digestApp } from '../../generators/render-inputs.js';
import type { RevisionState, UnitInfo } from './revision-state.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What changed in an app that the unit's definition depends on (empty: no restart). */
export function describeAppChanges(b: App, h: App, old: UnitInfo, now: UnitInfo): string[] {
  // An app the same in both (by digest: made once per App) can only move its instance's port.
  if (digestApp(b) === digestApp(h)) return now.kind === 'instance' && old.instance!.port !== now.instance!.port ? [`port ${old.instance!.port} → ${now.instance!.port}`] : [];
  const reasons: string[] = [];
  if (!same(b.package, h.package)) reasons.push('package changed');
  else if (b.sourceDigest !== h.sourceDigest) reasons.push('source code changed');
  for (const key of [...new Set([...Object.keys(b.env), ...Object.keys(h.env)])].sort()) {
    if (!(key in b.env)) reasons.push(`env ${key} added`);
    else if (!(key in h.env)) reasons.push(`env ${key} removed`);
    else if (b.env[key] !== h.env[key]) reasons.push(`env ${key} changed`);
  }
  for (const s of h.secrets) if (!b.secrets.includes(s)) reasons.push(`secret ${s} added`);
  for (const s of b.secrets) if (!h.secrets.includes(s)) reasons.push(`secret ${s} removed`);
  if (!same(b.resources, h.resources)) reasons.push(`resources ${describeResources(b)} → ${describeResources(h)}`);
  if (!same(b.addons, h.addons)) reasons.push('addons changed');
  if (now.kind === 'instance') {
    const process = now.instance!.process;
    const bp = b.processes.find((p) => p.name === process);
    const hp = h.processes.find((p) => p.name === process);
    if (bp?.command !== hp?.command) reasons.push('command changed');
    if (old.instance!.port !== now.instance!.port) reasons.push(`port ${old.instance!.port} → ${now.instance!.port}`);
  } else if (now.kind === 'release') {
    if (b.release !== h.release) reasons.push('release command changed');
    if (reasons.length > 0) reasons.push('runs again before the instances start');
  } else {
    const bc = b.cron[old.cron!];
    const hc = h.cron[now.cron!];
    if (bc.schedule !== hc.schedule) reasons.push(`schedule ${bc.schedule} → ${hc.schedule}`);
    if (bc.command !== hc.command) reasons.push('command changed');
  }
  return reasons;
}

function describeResources(app: App): string {
  const parts = [app.resources.memory && `memory ${app.resources.memory}`, app.resources.cpu && `cpu ${app.resources.cpu}`].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** Why a unit appears on a node: a new app, a scale-up, or a move from another node. */
export function describeStart(base: RevisionState, head: RevisionState, u: UnitInfo): string[] {
  const before = base.config.apps.find((a) => a.name === u.app);
  if (!before) return ['new app'];
  if (u.kind !== 'instance') {
    const from = base.placement.anchors[u.app];
    if (u.kind === 'release' && before.release === null) return ['release phase added'];
    if (u.kind === 'cron' && u.cron! >= before.cron.length) return ['cron entry added'];
    return from ? [`moved from ${from}`] : [];
  }
  const i = u.instance!;
  const prior = base.placement.instances.find((x) => x.app === i.app && x.process === i.process && x.index === i.index);
  if (prior) return [`moved from ${prior.node}`];
  const proc = head.config.apps.find((a) => a.name === u.app)!.processes.find((p) => p.name === i.process)!;
  return before.processes.some((p) => p.name === i.process) ? [`scaled to ${proc.instances}`] : ['new process'];
}

/** Why a unit leaves a node: app removed, scaled down, or moved elsewhere. */
export function describeStop(base: RevisionState, head: RevisionState, u: UnitInfo): string[] {
  const after = head.config.apps.find((a) => a.name === u.app);
  if (!after) return ['app removed'];
  if (u.kind !== 'instance') {
    const to = head.placement.anchors[u.app];
    if (u.kind === 'release' && after.release === null) return ['release phase removed'];
    if (u.kind === 'cron' && u.cron! >= after.cron.length) return ['cron entry removed'];
    return to ? [`moved to ${to}`] : [];
  }
  const i = u.instance!;
  const next = head.placement.instances.find((x) => x.app === i.app && x.process === i.process && x.index === i.index);
  if (next) return [`moved to ${next.node}`];
  const proc = after.processes.find((p) => p.name === i.process);
  return proc ? [`scaled to ${proc.instances}`] : ['process removed'];
}

export interface Route {
  app: string;
  upstreams: string[];
  health: string;
}

/** Every domain's route as the ingress Caddy serves it, by domain, in words for the plan. */
export function routesByDomain(config: Config, placement: Placement): Map<string, Route> {
  const address = new Map(config.fleet.nodes.map((n) => [n.name, n.address]));
  return new Map(
    routesOf(config, placement).map((r) => {
      const hc = r.healthcheck;
      const health = `${hc.path} every ${hc.intervalMs}ms, timeout ${hc.timeoutMs}ms, expect ${hc.status}`;
      return [r.domain, { app: r.app, upstreams: r.upstreams.map((i) => `${address.get(i.node)}:${i.port}`), health }];
    }),
  );
}
