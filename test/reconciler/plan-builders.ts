// Small builders for plans, so format tests read as the change they describe. The summary is
// derived from the nodes the way plan.ts derives it, so a test cannot build an inconsistent plan.
import type { AddonChange, FileChange, NodePlan, Plan, RevisionLabel, RouteChange, UnitChange } from '../../reconciler/plan/plan-model.js';

type NodeOver = Partial<Omit<NodePlan, 'node' | 'apps'>> & { apps?: Partial<NodePlan['apps']> };

export function makeNodePlan(node: string, over: NodeOver = {}): NodePlan {
  const { apps, ...rest } = over;
  return {
    node,
    status: 'changed',
    apps: { added: [], removed: [], changed: [], ...apps },
    units: [],
    routes: [],
    addons: [],
    warnings: [],
    files: [],
    ...rest,
  };
}

/** A unit of app `shop` is named 'shop-web-1'; the app is the part before the first dash. */
export function makeUnit(unit: string, action: UnitChange['action'], reasons: string[] = [], over: Partial<UnitChange> = {}): UnitChange {
  return { unit, app: unit.split('-')[0], kind: 'instance', action, reasons, ...over };
}

export function makeRoute(
  domain: string,
  action: RouteChange['action'],
  over: { added?: string[]; removed?: string[]; reasons?: string[]; app?: string } = {},
): RouteChange {
  return {
    domain,
    app: over.app ?? domain.split('.')[0],
    action,
    upstreamsAdded: over.added ?? [],
    upstreamsRemoved: over.removed ?? [],
    reasons: over.reasons ?? [],
  };
}

export function makeAddon(app: string, addon: AddonChange['addon'], action: AddonChange['action']): AddonChange {
  return { app, addon, action };
}

export function makeFile(path: string, action: FileChange['action'], diff?: string): FileChange {
  return diff === undefined ? { path, action } : { path, action, diff };
}

/** A unified diff of one hunk from the given lines: ' ' context, '-' removed, '+' added. */
export function makeDiff(path: string, hunk: string[], startLine = 1): string {
  const before = hunk.filter((l) => !l.startsWith('+')).length;
  const after = hunk.filter((l) => !l.startsWith('-')).length;
  // An empty side of a hunk starts at line 0, as diff -u writes it for a new or deleted file.
  const range = (n: number) => `${n ? startLine : 0},${n}`;
  return [`--- a/${path}`, `+++ b/${path}`, `@@ -${range(before)} +${range(after)} @@`, ...hunk].join('\n') + '\n';
}

/** A diff of about `chars` characters, each line distinct so a lost or repeated line shows. */
export function makeLongDiff(path: string, chars: number, tag = path): string {
  const hunk: string[] = [];
  for (let i = 0, size = 0; size < chars; i++) {
    const line = `${'-+ '[i % 3]}    ${tag}.line${i} = "${'x'.repeat(20 + (i % 17))}";`;
    hunk.push(line);
    size += line.length + 1;
  }
  return makeDiff(path, hunk);
}

const BASE: RevisionLabel = { revision: '3f2a9c1d5e6b7a8f9c0d1e2f3a4b5c6d7e8f9a0b', label: 'origin/main' };
const HEAD: RevisionLabel = { revision: null, label: 'working tree' };

export function makePlan(nodes: NodePlan[], over: { nodesUnchanged?: number; base?: RevisionLabel; head?: RevisionLabel } = {}): Plan {
  const union = (pick: (n: NodePlan) => string[]) => [...new Set(nodes.flatMap(pick))].sort();
  const count = (action: UnitChange['action']) => nodes.flatMap((n) => n.units).filter((u) => u.action === action).length;
  return {
    version: 1,
    base: over.base ?? BASE,
    head: over.head ?? HEAD,
    summary: {
      nodesChanged: nodes.length,
      nodesUnchanged: over.nodesUnchanged ?? 0,
      appsAdded: union((n) => n.apps.added),
      appsRemoved: union((n) => n.apps.removed),
      appsChanged: union((n) => n.apps.changed),
      starts: count('start'),
      restarts: count('restart'),
      stops: count('stop'),
      routesChanged: nodes.reduce((s, n) => s + n.routes.length, 0),
      warnings: nodes.reduce((s, n) => s + n.warnings.length, 0),
    },
    nodes,
  };
}
