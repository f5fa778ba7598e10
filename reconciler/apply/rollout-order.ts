// The order nodes switch in: a node whose processes use data held on another changed node (an
// app's Redis on the ingress node, its PostgreSQL on a database node) switches after that node,
// and never in the same batch, so a database exists before any instance or release uses it.
// Within that order nodes that hold data go first, as before. Pure.
import type { NodeTarget } from '../../fleet/node/driver.js';

/** The changed nodes whose data `t`'s processes use (other than `t` itself). */
function dataNodesUsed(t: NodeTarget, changed: Set<string>): Set<string> {
  const used = new Set<string>();
  for (const p of [...t.run.instances, ...t.run.releases]) {
    for (const addon of [p.addons.postgres, p.addons.redis]) {
      if (addon && addon.node !== t.node.name && changed.has(addon.node)) used.add(addon.node);
    }
  }
  return used;
}

/**
 * Each node's tier: 0 when it uses no data of another changed node, else one more than the
 * highest tier of those nodes. Two nodes that use each other's data (a cycle) cannot both come
 * first: the edge that closes the cycle is left out, and the node's switch says which data is missing.
 */
export function dataTiers(changed: NodeTarget[]): Map<string, number> {
  const names = new Set(changed.map((t) => t.node.name));
  const uses = new Map(changed.map((t) => [t.node.name, dataNodesUsed(t, names)]));
  const tier = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (node: string): number => {
    const known = tier.get(node);
    if (known !== undefined) return known;
    visiting.add(node);
    let t = 0;
    for (const dep of uses.get(node) ?? []) if (!visiting.has(dep)) t = Math.max(t, visit(dep) + 1);
    visiting.delete(node);
    tier.set(node, t);
    return t;
  };
  for (const n of names) visit(n);
  return tier;
}

/** Whether `node` served `app`'s `addon` data when last applied (its database already exists there). */
export type HeldBefore = (node: string, app: string, addon: 'postgres' | 'redis') => boolean;

/**
 * Nodes that use each other's new data, directly or through others (a cycle no order can
 * satisfy: on a first deploy, node A holds X's database and runs Y's instances, B holds Y's and
 * runs X's), each with the apps whose processes there use data another changed node does not
 * serve yet. Apply first switches each such node to its generation without those apps'
 * instances (data first, stage-data-node.ts), so every database of the cycle exists before the
 * rollout. Data a node already served does not count: a later deploy of the same nodes has no
 * cycle to break and switches each node once. Pure.
 */
export function dataCycles(changed: NodeTarget[], heldBefore: HeldBefore): Map<string, Set<string>> {
  const names = new Set(changed.map((t) => t.node.name));
  const newUses = (t: NodeTarget) => {
    const uses = new Map<string, Set<string>>(); // data node -> apps
    for (const p of [...t.run.instances, ...t.run.releases]) {
      for (const [addon, a] of [['postgres', p.addons.postgres], ['redis', p.addons.redis]] as const) {
        if (a && a.node !== t.node.name && names.has(a.node) && !heldBefore(a.node, p.app, addon)) uses.set(a.node, (uses.get(a.node) ?? new Set()).add(p.app));
      }
    }
    return uses;
  };
  const uses = new Map(changed.map((t) => [t.node.name, newUses(t)]));
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set<string>();
    const todo = [from];
    while (todo.length > 0) {
      const n = todo.pop()!;
      if (n === to) return true;
      if (seen.has(n)) continue;
      seen.add(n);
      todo.push(...(uses.get(n)?.keys() ?? []));
    }
    return false;
  };
  const cycles = new Map<string, Set<string>>();
  for (const [me, used] of uses) {
    if (![...used.keys()].some((d) => reaches(d, me))) continue;
    cycles.set(me, new Set([...used.values()].flatMap((apps) => [...apps])));
  }
  return cycles;
}

/** Canaries alone (one batch each), then batches of maxParallel. */
export function orderBatches<T>(nodes: T[], rollout: { canary: number; maxParallel: number }): T[][] {
  const canaries = nodes.slice(0, rollout.canary).map((n) => [n]);
  const rest = nodes.slice(rollout.canary);
  const batches: T[][] = [];
  for (let i = 0; i < rest.length; i += rollout.maxParallel) batches.push(rest.slice(i, i + rollout.maxParallel));
  return [...canaries, ...batches];
}

/** Canaries alone first, then batches of maxParallel, each batch within one tier (dataTiers). */
export function orderRollout(changed: NodeTarget[], rollout: { canary: number; maxParallel: number }): NodeTarget[][] {
  const tiers = dataTiers(changed);
  const holdsData = (t: NodeTarget) => t.run.postgres.length + t.run.redis.length > 0;
  const rank = (t: NodeTarget) => tiers.get(t.node.name)! * 2 + (holdsData(t) ? 0 : 1);
  const ordered = changed.map((t, i) => ({ t, i })).sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i).map((x) => x.t);
  const canaries = ordered.slice(0, rollout.canary);
  const byTier = new Map<number, NodeTarget[]>();
  for (const t of ordered.slice(rollout.canary)) {
    const k = tiers.get(t.node.name)!;
    byTier.set(k, [...(byTier.get(k) ?? []), t]);
  }
  return [...orderBatches(canaries, { canary: canaries.length, maxParallel: 1 }), ...[...byTier.values()].flatMap((tier) => orderBatches(tier, { canary: 0, maxParallel: rollout.maxParallel }))];
}
