// place: assign every process instance a node and a port. Pure and deterministic.
//
// Stability comes from two rules. Instances found in `previous` (the last placement) are
// placed first and keep their node and port whenever still possible, so a change to one app
// never moves another app's instances unless capacity forces it. Everything else is placed by
// rendezvous hashing of `${app}/${process}` over the eligible nodes, which depends only on
// that process and the node names; so without history, adding or removing an app never
// changes another app's nodes either (given room). Ports without history come from a hash of
// `${app}/${process}/${index}` and probe upwards on collision, so there a new app can shift
// another app's port on a shared node: pass `previous` to rule that out.
import type { App, Config, Instance, Placement, PlacementIssue, Process } from '../schema/model.js';
import { stableHash } from './hash.js';
import { memoryShortfallMessage, portShortfallMessage } from './placement-issues.js';
import { Rendezvous } from './rendezvous.js';

/** The nodes an app may run on: ids ascending (= sorted by name), plus a membership mask. */
interface Eligible {
  ids: number[];
  mask: Uint8Array;
}

/** One process of one app, in output order. */
interface Group {
  app: App;
  process: Process;
  memory: number;
  eligible: Eligible;
  /** Where instance 1 goes in the output. */
  base: number;
  /** Nodes of the instances kept from `previous`. */
  kept: number[];
}

interface Slot {
  group: Group;
  index: number;
}

export function placeInstances(
  config: Config,
  previous: Instance[] = [],
): { placement: Placement; issues: PlacementIssue[] } {
  // Node ids follow name order, so nothing depends on the order of nodes in fleet.yaml.
  const nodes = [...config.fleet.nodes].sort((a, b) => compare(a.name, b.name));
  const names = nodes.map((n) => n.name);
  const idOf = new Map(names.map((name, id) => [name, id]));
  const free = Float64Array.from(nodes, (n) => n.memoryBytes ?? Infinity);
  const used = nodes.map(() => new Set<number>());
  const { from, to } = config.fleet.settings.portRange;
  const portCount = to - from + 1;
  const ranking = new Rendezvous(names);

  const eligibleFor = eligibility(nodes);
  const apps = [...config.apps].sort((a, b) => compare(a.name, b.name));
  const eligibleOf = apps.map((app) => eligibleFor(app.placementLabels));
  pinAddonApps(apps, eligibleOf, previous, idOf, ranking);
  const groups: Group[] = [];
  let total = 0;
  for (const [appIndex, app] of apps.entries()) {
    const eligible = eligibleOf[appIndex];
    const memory = app.resources.memoryBytes;
    for (const proc of [...app.processes].sort((a, b) => compare(a.name, b.name))) {
      groups.push({ app, process: proc, memory, eligible, base: total, kept: [] });
      total += proc.instances;
    }
  }

  const out: (Instance | undefined)[] = new Array(total).fill(undefined);
  const place = (g: Group, index: number, id: number, port: number) => {
    free[id] -= g.memory;
    used[id].add(port);
    out[g.base + index - 1] = { app: g.app.name, process: g.process.name, index, node: names[id], port };
  };
  const freePort = (id: number, g: Group, index: number) => {
    let port = from + (stableHash(`${g.app.name}/${g.process.name}/${index}`) % portCount);
    while (used[id].has(port)) port = port === to ? from : port + 1;
    return port;
  };

  // 1. Instances from the last placement keep their node, and their port when it is free.
  const before = indexPrevious(previous);
  const needPort: { group: Group; index: number; id: number }[] = [];
  const fresh: Slot[] = [];
  for (const group of groups) {
    const history = before.get(group.app.name)?.get(group.process.name);
    for (let index = 1; index <= group.process.instances; index++) {
      const last = history?.get(index);
      const id = last === undefined ? undefined : idOf.get(last.node);
      if (last === undefined || id === undefined || !group.eligible.mask[id] || free[id] < group.memory) {
        fresh.push({ group, index });
      } else if (last.port >= from && last.port <= to && !used[id].has(last.port)) {
        place(group, index, id, last.port);
        group.kept.push(id);
      } else {
        free[id] -= group.memory; // reserved until a port is found below
        needPort.push({ group, index, id });
      }
    }
  }
  let reordered = false;
  for (const { group, index, id } of needPort) {
    free[id] += group.memory;
    if (used[id].size < portCount) {
      place(group, index, id, freePort(id, group, index));
      group.kept.push(id);
    } else {
      fresh.push({ group, index });
      reordered = true;
    }
  }
  if (reordered) fresh.sort((a, b) => a.group.base + a.index - (b.group.base + b.index));

  // 2. New instances, one process at a time. Instance i starts at rank (i-1) mod n of the
  // process's ranking and walks on past nodes without room (memory or a free port), taking
  // the first node that runs the fewest instances of this process: without history and with
  // room that is exactly rank (i-1) mod n; with history or full nodes it keeps the spread.
  const count = new Int32Array(nodes.length);
  const stamp = new Int32Array(nodes.length).fill(-1);
  const issues: PlacementIssue[] = [];
  for (let start = 0; start < fresh.length; ) {
    const group = fresh[start].group;
    let end = start;
    while (end < fresh.length && fresh[end].group === group) end++;
    const { memory, eligible } = group;
    const n = eligible.ids.length;
    if (n === 0) {
      start = end; // no eligible node: validation reports that
      continue;
    }
    const gen = group.base; // unique per group with instances: marks counts as this group's
    for (const id of group.kept) {
      count[id] = stamp[id] === gen ? count[id] + 1 : 1;
      stamp[id] = gen;
    }
    ranking.rank(`${group.app.name}/${group.process.name}`, eligible.ids);
    let unplaced = 0;
    for (let s = start; s < end; s++) {
      const { index } = fresh[s];
      let best = -1;
      let bestCount = Infinity;
      for (let k = 0; k < n; k++) {
        const id = ranking.at((index - 1 + k) % n);
        if (free[id] < memory || used[id].size >= portCount) continue;
        const c = stamp[id] === gen ? count[id] : 0;
        if (c < bestCount) {
          best = id;
          bestCount = c;
          if (c === 0) break;
        }
      }
      if (best < 0) {
        unplaced++;
        continue;
      }
      place(group, index, best, freePort(best, group, index));
      count[best] = bestCount + 1;
      stamp[best] = gen;
    }
    if (unplaced > 0) issues.push(shortfall(group, unplaced));
    start = end;
  }

  function shortfall(group: Group, unplaced: number): PlacementIssue {
    const { app, process, memory, eligible } = group;
    const s = {
      app: app.name,
      process: process.name,
      requested: process.instances,
      unplaced,
      labels: app.placementLabels,
      nodes: eligible.ids.map((id) => names[id]),
    };
    const roomy = eligible.ids.filter((id) => free[id] >= memory);
    const message =
      roomy.length > 0
        ? portShortfallMessage(s, { from, to }, roomy.map((id) => names[id]))
        : memoryShortfallMessage(
            s,
            app.resources.memory ?? String(memory),
            eligible.ids.reduce((sum, id) => sum + free[id], 0),
            eligible.ids.reduce((max, id) => Math.max(max, free[id]), 0),
          );
    return { app: app.name, path: ['processes', process.name, 'instances'], message };
  }

  const instances = out.filter((i): i is Instance => i !== undefined);

  // 3. Anchors: the node of the app's first instance, else the app's top rendezvous node.
  const anchors: Record<string, string> = {};
  const firstNode = new Map<string, string>();
  for (const i of instances) if (!firstNode.has(i.app)) firstNode.set(i.app, i.node);
  for (const [appIndex, app] of apps.entries()) {
    const ids = eligibleOf[appIndex].ids;
    if (ids.length === 0) continue;
    anchors[app.name] = firstNode.get(app.name) ?? names[ranking.rank(`${app.name}/anchor`, ids).at(0)];
  }

  return { placement: { instances, anchors }, issues };
}

/**
 * Apps with addons reach Postgres and Redis over unix sockets with peer auth, so each runs on
 * one node with its data: the node of a previous instance when it is still eligible, else the
 * app's top rendezvous node. Their eligible set becomes that node alone.
 */
function pinAddonApps(apps: App[], eligibleOf: Eligible[], previous: readonly Instance[], idOf: Map<string, number>, ranking: Rendezvous): void {
  const lastNode = new Map<string, string>();
  for (const i of previous) if (!lastNode.has(i.app) || compare(i.node, lastNode.get(i.app)!) < 0) lastNode.set(i.app, i.node);
  for (const [appIndex, app] of apps.entries()) {
    const { ids, mask } = eligibleOf[appIndex];
    if ((!app.addons.postgres && !app.addons.redis) || ids.length === 0) continue;
    const last = idOf.get(lastNode.get(app.name) ?? '');
    const id = last !== undefined && mask[last] ? last : ranking.rank(`${app.name}/anchor`, ids).at(0);
    const pinned = new Uint8Array(mask.length);
    pinned[id] = 1;
    eligibleOf[appIndex] = { ids: [id], mask: pinned };
  }
}

/** Code-unit order, the same in every locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The last placement by app, process and index; of duplicates (a corrupt history) the smallest node/port wins. */
function indexPrevious(previous: readonly Instance[]): Map<string, Map<string, Map<number, Instance>>> {
  const byApp = new Map<string, Map<string, Map<number, Instance>>>();
  for (const inst of previous) {
    let byProcess = byApp.get(inst.app);
    if (byProcess === undefined) byApp.set(inst.app, (byProcess = new Map()));
    let byIndex = byProcess.get(inst.process);
    if (byIndex === undefined) byProcess.set(inst.process, (byIndex = new Map()));
    const seen = byIndex.get(inst.index);
    if (seen === undefined || compare(inst.node, seen.node) < 0 || (inst.node === seen.node && inst.port < seen.port)) {
      byIndex.set(inst.index, inst);
    }
  }
  return byApp;
}

/** Eligible nodes per label selector, memoized: most apps share a handful of selectors. */
function eligibility(nodes: readonly { labels: Record<string, string> }[]): (labels: Record<string, string>) => Eligible {
  const cache = new Map<string, Eligible>();
  return (labels) => {
    const entries = Object.entries(labels);
    const key = entries.length === 0 ? '' : JSON.stringify(entries.sort(([a], [b]) => compare(a, b)));
    let hit = cache.get(key);
    if (hit === undefined) {
      const mask = new Uint8Array(nodes.length);
      const ids: number[] = [];
      nodes.forEach((node, id) => {
        if (entries.every(([k, v]) => Object.hasOwn(node.labels, k) && node.labels[k] === v)) {
          mask[id] = 1;
          ids.push(id);
        }
      });
      hit = { ids, mask };
      cache.set(key, hit);
    }
    return hit;
  };
}
