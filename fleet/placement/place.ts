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
import { settlePostgresVersions } from './postgres-version.js';
import { ADDON_NAMES, type AddonName, type App, type AppData, type Config, type Instance, type Placement, type PlacementIssue, type Process } from '../../schema/model.js';
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

/** The PostgreSQL port on a data node: one cluster per node serves every app's database. */
export const POSTGRES_PORT = 5432;

/**
 * @param previous the last placement's instances: they keep their nodes and ports
 * @param previousData the last placement's data nodes: an addon's data stays where it is
 */
export function placeInstances(
  config: Config,
  previous: Instance[] = [],
  previousData: Record<string, AppData> = {},
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
  const probePort = (id: number, key: string) => {
    let port = from + (stableHash(key) % portCount);
    while (used[id].has(port)) port = port === to ? from : port + 1;
    return port;
  };
  const freePort = (id: number, g: Group, index: number) => probePort(id, `${g.app.name}/${g.process.name}/${index}`);

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

  // Data nodes are chosen before new instances, so that a Redis port kept from the last
  // placement is reserved before a new instance could take it.
  const data = placeData(apps, eligibleFor, previous, previousData, idOf, ranking);
  const redisToPort: { app: string; id: number }[] = [];
  for (const [app, addons] of data) {
    const r = addons.redis;
    if (!r) continue;
    const last = previousData[app]?.redis;
    if (last && idOf.get(last.node) === r.id && last.port >= from && last.port <= to && !used[r.id].has(last.port)) {
      r.port = last.port;
      used[r.id].add(last.port);
    } else redisToPort.push({ app, id: r.id });
  }

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
  for (const { app, id } of redisToPort) {
    if (used[id].size >= portCount) {
      issues.push({ app, path: ['addons', 'redis'], message: `no port of settings.portRange ${from}-${to} is free on ${names[id]} for ${app}'s Redis; widen settings.portRange` });
      continue;
    }
    const port = probePort(id, `${app}/redis`);
    used[id].add(port);
    data.get(app)!.redis!.port = port;
  }
  const dataOut: Record<string, AppData> = {};
  for (const [app, addons] of data) {
    const out: AppData = {};
    for (const addon of ADDON_NAMES) {
      const d = addons[addon];
      if (d && d.port > 0) out[addon] = { node: names[d.id], port: d.port };
    }
    dataOut[app] = out;
  }

  // 3. Anchors: the node of the app's first instance, else the app's top rendezvous node.
  const anchors: Record<string, string> = {};
  const firstNode = new Map<string, string>();
  for (const i of instances) if (!firstNode.has(i.app)) firstNode.set(i.app, i.node);
  for (const [appIndex, app] of apps.entries()) {
    const ids = eligibleOf[appIndex].ids;
    if (ids.length === 0) continue;
    anchors[app.name] = firstNode.get(app.name) ?? names[ranking.rank(`${app.name}/anchor`, ids).at(0)];
  }

  issues.push(...settlePostgresVersions(apps, dataOut, previousData));
  return { placement: { instances, anchors, data: dataOut }, issues };
}

/**
 * The data node of each addon of each app: where the data was last time, while that node is in
 * the fleet and still matches the addon's labels; else the top node of the app's own rendezvous
 * ranking (`<app>/data`, the same for both addons when their labels are the same). Placements
 * recorded before data nodes existed pinned an app with addons to one node: the node of its
 * previous instances, so that node keeps the data.
 */
function placeData(
  apps: App[],
  eligibleFor: (labels: Record<string, string>) => Eligible,
  previous: readonly Instance[],
  previousData: Record<string, AppData>,
  idOf: Map<string, number>,
  ranking: Rendezvous,
): Map<string, Partial<Record<AddonName, { id: number; port: number }>>> {
  const lastNode = new Map<string, string>();
  for (const i of previous) if (!lastNode.has(i.app) || compare(i.node, lastNode.get(i.app)!) < 0) lastNode.set(i.app, i.node);
  const data = new Map<string, Partial<Record<AddonName, { id: number; port: number }>>>();
  for (const app of apps) {
    if (!app.addons.postgres && !app.addons.redis) continue;
    const addons: Partial<Record<AddonName, { id: number; port: number }>> = {};
    for (const addon of ADDON_NAMES) {
      if (!app.addons[addon]) continue;
      const { ids, mask } = eligibleFor(app.addonLabels[addon]);
      if (ids.length === 0) continue; // validation reports labels no node has
      const recorded = previousData[app.name];
      const last = idOf.get((recorded ? recorded[addon]?.node : lastNode.get(app.name)) ?? '');
      const id = last !== undefined && mask[last] ? last : ranking.rank(`${app.name}/data`, ids).at(0);
      addons[addon] = { id, port: addon === 'postgres' ? POSTGRES_PORT : 0 };
    }
    data.set(app.name, addons);
  }
  return data;
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
