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
import type { App, AppData, Config, Instance, Placement, PlacementIssue, Process } from '../../schema/model.js';
import { compare, indexPrevious, inPortRange, makeBoard, probePort, type Board, type Eligible } from './board.js';
import { assignRedisPorts, dataByName, keepRedisPorts, placeData } from './place-data.js';
import { memoryShortfallMessage, portShortfallMessage } from './placement-issues.js';

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

/** The instances placed so far, at their output position (base + index - 1). */
type Placed = (Instance | undefined)[];

/**
 * @param previous the last placement's instances: they keep their nodes and ports
 * @param previousData the last placement's data nodes: an addon's data stays where it is
 */
export function placeInstances(
  config: Config,
  previous: Instance[] = [],
  previousData: Record<string, AppData> = {},
): { placement: Placement; issues: PlacementIssue[] } {
  const board = makeBoard(config);
  const apps = [...config.apps].sort((a, b) => compare(a.name, b.name));
  const eligibleOf = apps.map((app) => board.eligibleFor(app.placementLabels));
  const { groups, total } = groupProcesses(apps, eligibleOf);
  const placed: Placed = new Array(total).fill(undefined);

  const fresh = keepPrevious(board, placed, groups, previous);
  const data = placeData(board, apps, previous, previousData);
  const redisToPort = keepRedisPorts(board, data, previousData);
  const issues = placeFresh(board, placed, fresh);

  const instances = placed.filter((i): i is Instance => i !== undefined);
  issues.push(...assignRedisPorts(board, data, redisToPort));
  const dataOut = dataByName(board, data);
  const anchors = chooseAnchors(board, apps, eligibleOf, instances);
  issues.push(...settlePostgresVersions(apps, dataOut, previousData));
  return { placement: { instances, anchors, data: dataOut }, issues };
}

/** Every process of every app, apps and processes in name order, with its place in the output. */
function groupProcesses(apps: App[], eligibleOf: Eligible[]): { groups: Group[]; total: number } {
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
  return { groups, total };
}

function put(board: Board, placed: Placed, g: Group, index: number, id: number, port: number): void {
  board.free[id] -= g.memory;
  board.used[id].add(port);
  placed[g.base + index - 1] = { app: g.app.name, process: g.process.name, index, node: board.names[id], port };
}

const freePort = (board: Board, id: number, g: Group, index: number) => probePort(board, id, `${g.app.name}/${g.process.name}/${index}`);

/**
 * Phase 1: instances from the last placement keep their node, and their port when it is free.
 * Returns the slots left for phase 2, in output order.
 */
function keepPrevious(board: Board, placed: Placed, groups: Group[], previous: Instance[]): Slot[] {
  const { free, used, idOf } = board;
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
      } else if (inPortRange(board, last.port) && !used[id].has(last.port)) {
        put(board, placed, group, index, id, last.port);
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
    if (used[id].size < board.portCount) {
      put(board, placed, group, index, id, freePort(board, id, group, index));
      group.kept.push(id);
    } else {
      fresh.push({ group, index });
      reordered = true;
    }
  }
  if (reordered) fresh.sort((a, b) => a.group.base + a.index - (b.group.base + b.index));
  return fresh;
}

/**
 * Phase 2: new instances, one process at a time. Instance i starts at rank (i-1) mod n of the
 * process's ranking and walks on past nodes without room (memory or a free port), taking the
 * first node that runs the fewest instances of this process: without history and with room
 * that is exactly rank (i-1) mod n; with history or full nodes it keeps the spread.
 */
function placeFresh(board: Board, placed: Placed, fresh: Slot[]): PlacementIssue[] {
  const { free, used, ranking } = board;
  const count = new Int32Array(board.names.length);
  const stamp = new Int32Array(board.names.length).fill(-1);
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
        if (free[id] < memory || used[id].size >= board.portCount) continue;
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
      put(board, placed, group, index, best, freePort(board, best, group, index));
      count[best] = bestCount + 1;
      stamp[best] = gen;
    }
    if (unplaced > 0) issues.push(shortfall(board, group, unplaced));
    start = end;
  }
  return issues;
}

/** Why `unplaced` instances of a process found no node: ports, or memory. */
function shortfall(board: Board, group: Group, unplaced: number): PlacementIssue {
  const { names, free } = board;
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
      ? portShortfallMessage(s, { from: board.from, to: board.to }, roomy.map((id) => names[id]))
      : memoryShortfallMessage(
          s,
          app.resources.memory ?? String(memory),
          eligible.ids.reduce((sum, id) => sum + free[id], 0),
          eligible.ids.reduce((max, id) => Math.max(max, free[id]), 0),
        );
  return { app: app.name, path: ['processes', process.name, 'instances'], message };
}

/** Phase 3: each app's anchor: the node of its first instance, else its top rendezvous node. */
function chooseAnchors(board: Board, apps: App[], eligibleOf: Eligible[], instances: Instance[]): Record<string, string> {
  const anchors: Record<string, string> = {};
  const firstNode = new Map<string, string>();
  for (const i of instances) if (!firstNode.has(i.app)) firstNode.set(i.app, i.node);
  for (const [appIndex, app] of apps.entries()) {
    const ids = eligibleOf[appIndex].ids;
    if (ids.length === 0) continue;
    anchors[app.name] = firstNode.get(app.name) ?? board.names[board.ranking.rank(`${app.name}/anchor`, ids).at(0)];
  }
  return anchors;
}
