// Compares two rendered revisions of a fleet and says, per node, what will happen: which
// units start, restart (and why) or stop, which routes and addons change, which files differ.
// Pure: rendered data in, a Plan out.
import { createTwoFilesPatch } from 'diff';
import { ADDON_NAMES, type AddonName, type App, type Config } from '../../schema/model.js';
import type { FlakeInputs, RenderedNode } from '../../generators/render-types.js';
import { unitsOnNode, type RevisionState } from './revision-state.js';
import { describeAppChanges, describeStart, describeStop, routesByDomain, type Route } from './plan-reasons.js';
import { indexAddons, requiredAddonSecrets, type RequiredSecret } from '../../generators/addons.js';
import { digestFiles } from '../../generators/render-node.js';
import { digestApp } from '../../generators/render-inputs.js';
import type { FileChange, NodePlan, Plan, RouteChange, UnitChange } from './plan-model.js';
import { describeMove, describeStaging, holdsDataBefore, movesWithBackups } from '../backup/move-decide.js';

/** Changes that reach every node at once: the config repo's flake.nix or flake.lock. */
export function describeFleetChanges(base: FlakeInputs | undefined, head: FlakeInputs | undefined): string[] {
  // Without a lock on either side no node's manifest holds the flake (render-node.ts): nothing changes.
  if (!base || !head || (base.lock === null && head.lock === null)) return [];
  const causes: string[] = [];
  const what = (b: string | null, h: string | null) => (b === null ? 'added' : h === null ? 'removed' : 'changed');
  if (base.lock !== head.lock) causes.push(`flake.lock ${what(base.lock, head.lock)}: every node rebuilds with the new inputs (nixpkgs and the rest); units whose packages change restart`);
  if (base.nix !== head.nix) causes.push(`flake.nix ${what(base.nix, head.nix)}: every node rebuilds`);
  return causes;
}

/** One revision's rendered nodes by name, rendered when asked for (plan.ts), so that a plan holds one node's files at a time. */
export interface NodeSource {
  /** In fleet.yaml order. */
  names: string[];
  get(name: string): RenderedNode | undefined;
}

function nodeList(nodes: RenderedNode[]): NodeSource {
  const byName = new Map(nodes.map((n) => [n.node, n]));
  return { names: nodes.map((n) => n.node), get: (name) => byName.get(name) };
}

/**
 * `unchanged`: nodes known to render the same files in both revisions (same render inputs),
 * left out of `nodes` on both sides and counted as unchanged. `nodes`: the rendered nodes of
 * each side, instead of the states' lists.
 */
export function diffRevisions(base: RevisionState, head: RevisionState, opts: { diff: boolean; unchanged?: ReadonlySet<string>; nodes?: { base: NodeSource; head: NodeSource } }): Plan {
  const baseNodes = opts.nodes?.base ?? nodeList(base.nodes);
  const headNodes = opts.nodes?.head ?? nodeList(head.nodes);
  const inBase = new Set(baseNodes.names);
  const inHead = new Set(headNodes.names);
  const names = [...headNodes.names, ...baseNodes.names.filter((n) => !inHead.has(n))];
  const ctx: Ctx = { base, head, baseApps: appsByName(base.config), headApps: appsByName(head.config), routes: new Map(), routeChanges: new Map(), data: new Map(), secrets: new Map() };
  const nodes: NodePlan[] = [];
  let unchanged = opts.unchanged?.size ?? 0;
  // One node of each side at a time: its files are dropped once compared.
  for (const name of names) {
    const b = inBase.has(name) ? baseNodes.get(name) : undefined;
    const h = inHead.has(name) ? headNodes.get(name) : undefined;
    if (b && h && b.manifest.hash === h.manifest.hash) unchanged++;
    else nodes.push(diffNode(ctx, name, b, h, opts));
  }
  const fleetChanges = describeFleetChanges(base.flake, head.flake);
  const count = (action: UnitChange['action']) => nodes.reduce((sum, n) => sum + n.units.filter((u) => u.action === action).length, 0);
  return {
    version: 1,
    base: base.label,
    head: head.label,
    summary: {
      nodesChanged: nodes.length,
      nodesUnchanged: unchanged,
      appsAdded: [...ctx.headApps.keys()].filter((a) => !ctx.baseApps.has(a)).sort(),
      appsRemoved: [...ctx.baseApps.keys()].filter((a) => !ctx.headApps.has(a)).sort(),
      // By digest (its JSON's sha256): made once per App, and kept with a revision the compile cache read back.
      appsChanged: [...ctx.headApps].filter(([name, app]) => ctx.baseApps.has(name) && digestApp(ctx.baseApps.get(name)!) !== digestApp(app)).map(([name]) => name).sort(),
      starts: count('start'),
      restarts: count('restart'),
      stops: count('stop'),
      routesChanged: nodes.reduce((sum, n) => sum + n.routes.length, 0),
      warnings: nodes.reduce((sum, n) => sum + n.warnings.length, 0),
    },
    ...(fleetChanges.length > 0 ? { fleetChanges } : {}),
    nodes,
  };
}

type Ctx = {
  base: RevisionState;
  head: RevisionState;
  baseApps: Map<string, App>;
  headApps: Map<string, App>;
  /** routesByDomain per revision, computed once and only when an ingress node changes. */
  routes: Map<RevisionState, Map<string, Route>>;
  /** routeChanges, by whether the node is an ingress before and after. */
  routeChanges: Map<string, RouteChange[]>;
  data: Map<RevisionState, Map<string, string[]>>;
  secrets: Map<RevisionState, Map<string, RequiredSecret[]>>;
};

/** The apps with addon data on a node in a revision (indexed once per revision). */
function dataOn(ctx: Ctx, state: RevisionState, node: string): string[] {
  let byNode = ctx.data.get(state);
  if (!byNode) {
    byNode = new Map();
    for (const [app, data] of Object.entries(state.placement.data)) {
      for (const n of new Set(Object.values(data).map((d) => d.node))) (byNode.get(n) ?? byNode.set(n, []).get(n)!).push(app);
    }
    ctx.data.set(state, byNode);
  }
  return byNode.get(node) ?? [];
}

function routesFor(ctx: Ctx, state: RevisionState): Map<string, Route> {
  let routes = ctx.routes.get(state);
  if (!routes) ctx.routes.set(state, (routes = routesByDomain(state.config, state.placement)));
  return routes;
}

function appsByName(config: Config): Map<string, App> {
  return new Map(config.apps.map((a) => [a.name, a]));
}

function diffNode(ctx: Ctx, node: string, b: RenderedNode | undefined, h: RenderedNode | undefined, opts: { diff: boolean }): NodePlan {
  const baseApps = Object.keys(b?.manifest.apps ?? {});
  const headApps = Object.keys(h?.manifest.apps ?? {});
  // Without diffs, which files differ is known from their digests: a node from the compile cache is not read.
  const viaDigests = !opts.diff && ((b !== undefined && 'fileDigests' in b) || (h !== undefined && 'fileDigests' in h));
  const files = viaDigests ? diffFiles(node, digestsOf(b), digestsOf(h), false) : diffFiles(node, b?.files ?? {}, h?.files ?? {}, opts.diff);
  const changedFiles = new Set(files.map((f) => f.path));
  const plan: NodePlan = {
    node,
    status: !b ? 'added' : !h ? 'removed' : 'changed',
    apps: {
      added: headApps.filter((a) => !baseApps.includes(a)),
      removed: baseApps.filter((a) => !headApps.includes(a)),
      changed: headApps.filter((a) => baseApps.includes(a) && changedFiles.has(`apps/${a}.nix`)),
    },
    units: diffUnits(ctx, node),
    routes: routeChanges(ctx, !!b?.manifest.ingress, !!h?.manifest.ingress),
    addons: [],
    warnings: [],
    files,
  };
  diffAddons(ctx, node, plan);
  // A password file this node did not need before: say so, or the apply's preflight will.
  const before = secretsOn(ctx, ctx.base, node);
  for (const r of secretsOn(ctx, ctx.head, node)) {
    if (!before.some((x) => x.app === r.app && x.name === r.name)) {
      plan.warnings.push(`${r.reason}: ${ctx.head.config.fleet.settings.secretsDir}/${r.app}/${r.name} must exist on ${node} before this is applied`);
    }
  }
  return plan;
}

/** A node's files as digests (for a node rendered in this process, made from its files). */
function digestsOf(n: RenderedNode | undefined): Record<string, string> {
  return !n ? {} : (n.fileDigests ?? digestFiles(n.files));
}

/** The addon passwords a node needs in a revision (indexed by node once per revision). */
function secretsOn(ctx: Ctx, state: RevisionState, node: string): RequiredSecret[] {
  let byNode = ctx.secrets.get(state);
  if (!byNode) {
    byNode = new Map();
    for (const r of requiredAddonSecrets(indexAddons(state.config, state.placement))) {
      for (const n of new Set(r.nodes)) (byNode.get(n) ?? byNode.set(n, []).get(n)!).push(r);
    }
    ctx.secrets.set(state, byNode);
  }
  return byNode.get(node) ?? [];
}

function diffUnits(ctx: Ctx, node: string): UnitChange[] {
  const before = unitsOnNode(ctx.base, node);
  const after = unitsOnNode(ctx.head, node);
  const changes: UnitChange[] = [];
  for (const [unit, u] of after) {
    const old = before.get(unit);
    if (!old) {
      changes.push({ unit, app: u.app, kind: u.kind, action: 'start', reasons: describeStart(ctx.base, ctx.head, u) });
      continue;
    }
    const reasons = describeAppChanges(ctx.baseApps.get(u.app)!, ctx.headApps.get(u.app)!, old, u);
    if (reasons.length > 0) changes.push({ unit, app: u.app, kind: u.kind, action: 'restart', reasons });
  }
  for (const [unit, u] of before) {
    if (!after.has(unit)) changes.push({ unit, app: u.app, kind: u.kind, action: 'stop', reasons: describeStop(ctx.base, ctx.head, u) });
  }
  return changes.sort((x, y) => (x.unit < y.unit ? -1 : x.unit > y.unit ? 1 : 0));
}

/**
 * The route changes of an ingress node: every ingress serves every domain, so they depend only on
 * whether the node is an ingress before and after, and are compared once per plan for each case.
 */
function routeChanges(ctx: Ctx, before: boolean, after: boolean): RouteChange[] {
  const key = `${before} ${after}`;
  let changes = ctx.routeChanges.get(key);
  if (!changes) ctx.routeChanges.set(key, (changes = diffRoutes(before ? routesFor(ctx, ctx.base) : null, after ? routesFor(ctx, ctx.head) : null)));
  return changes;
}

/** Routes of an ingress node before and after (null where the node is not an ingress). */
function diffRoutes(before: Map<string, Route> | null, after: Map<string, Route> | null): RouteChange[] {
  const b = before ?? new Map<string, Route>();
  const a = after ?? new Map<string, Route>();
  const changes: RouteChange[] = [];
  for (const [domain, r] of a) {
    const old = b.get(domain);
    if (!old) {
      changes.push({ domain, app: r.app, action: 'add', upstreamsAdded: r.upstreams, upstreamsRemoved: [], reasons: [] });
      continue;
    }
    const added = r.upstreams.filter((u) => !old.upstreams.includes(u));
    const removed = old.upstreams.filter((u) => !r.upstreams.includes(u));
    const reasons = [...(old.app !== r.app ? [`now routes to ${r.app}, was ${old.app}`] : []), ...(old.health !== r.health ? [`health check ${old.health} → ${r.health}`] : [])];
    if (added.length + removed.length + reasons.length > 0) changes.push({ domain, app: r.app, action: 'change', upstreamsAdded: added, upstreamsRemoved: removed, reasons });
  }
  for (const [domain, r] of b) {
    if (!a.has(domain)) changes.push({ domain, app: r.app, action: 'remove', upstreamsAdded: [], upstreamsRemoved: r.upstreams, reasons: [] });
  }
  return changes.sort((x, y) => (x.domain < y.domain ? -1 : 1));
}

const ADDON_NOUN = { postgres: 'PostgreSQL database', redis: 'Redis server' };

/** Addons live on their data node; created or removed there, and their data never moves. */
function diffAddons(ctx: Ctx, node: string, plan: NodePlan): void {
  const dataNode = (state: RevisionState, app: App | undefined, addon: AddonName) =>
    app && app.addons[addon] ? (state.placement.data[app.name]?.[addon]?.node ?? null) : null;
  // Only apps holding data here, before or after, can have addons here.
  const names = [...new Set([...dataOn(ctx, ctx.base, node), ...dataOn(ctx, ctx.head, node)])].sort();
  for (const name of names) {
    const b = ctx.baseApps.get(name);
    const h = ctx.headApps.get(name);
    for (const addon of ADDON_NAMES) {
      const from = dataNode(ctx.base, b, addon);
      const to = dataNode(ctx.head, h, addon);
      const before = from === node;
      const after = to === node;
      if (before && after) warnVersionChange(ctx, name, addon, node, plan);
      if (before === after) continue;
      plan.addons.push({ app: name, addon, action: after ? 'create' : 'remove' });
      const moving = from !== null && to !== null && movesWithBackups(ctx.head.config, name, addon);
      if (after && from !== null && moving) {
        plan.warnings.push(describeMove({ app: name, addon, from, to: node }));
        if (!holdsDataBefore(ctx.base.placement.data, node, addon)) plan.warnings.push(describeStaging({ app: name, addon, to: node }));
      } else if (after && from !== null) {
        plan.warnings.push(`${name}'s ${ADDON_NOUN[addon]} moves to ${node}, where it is created empty: the data on ${from} is not copied`);
      } else if (!after && moving) {
        plan.warnings.push(`${name}'s ${ADDON_NOUN[addon]} on ${node} is no longer used (its data moves to ${to}): the old copy stays until \`skyrec data forget ${name} --node ${node}\``);
      } else if (!after) {
        plan.warnings.push(
          `${name}'s ${ADDON_NOUN[addon]} on ${node} is no longer managed${to !== null ? ` (its data node is now ${to})` : ''}: ` +
            'it is not dropped, and its data stays on the node until you remove it by hand',
        );
      }
    }
  }
}

/** A new PostgreSQL major under existing data: NixOS starts it on an empty data directory. */
function warnVersionChange(ctx: Ctx, app: string, addon: AddonName, node: string, plan: NodePlan): void {
  if (addon !== 'postgres') return;
  const from = ctx.base.placement.data[app]?.[addon]?.version;
  const to = ctx.head.placement.data[app]?.[addon]?.version;
  if (to === undefined) {
    plan.warnings.push(
      `${app}'s ${ADDON_NOUN[addon]} on ${node} runs the PostgreSQL major that the node's system.stateVersion picks, which skyrec did not record: ` +
        'name it in addons.postgres.version to pin it',
    );
  }
  if (from === undefined || to === undefined || from === to) return;
  plan.warnings.push(
    `${app}'s ${ADDON_NOUN[addon]} on ${node} moves from PostgreSQL ${from} to ${to}, which starts on an empty data directory: ` +
      `upgrade the data with pg_upgrade first, or keep addons.postgres.version: ${from}`,
  );
}

function diffFiles(node: string, before: Record<string, string>, after: Record<string, string>, withDiff: boolean): FileChange[] {
  const paths = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changes: FileChange[] = [];
  for (const path of paths) {
    const b = before[path];
    const a = after[path];
    if (b === a) continue;
    const change: FileChange = { path, action: b === undefined ? 'add' : a === undefined ? 'remove' : 'change' };
    if (withDiff) {
      change.diff = createTwoFilesPatch(b === undefined ? '/dev/null' : `a/${node}/${path}`, a === undefined ? '/dev/null' : `b/${node}/${path}`, b ?? '', a ?? '', undefined, undefined, { context: 3 })
        .split('\n')
        .slice(1) // the '====' banner
        .join('\n');
    }
    changes.push(change);
  }
  return changes;
}
