// The state one placement run works on: the nodes in name order, the memory still free and the
// ports taken on each. Every phase of placeInstances (place.ts) reads and updates one board.
import type { Config, Instance } from '../../schema/model.js';
import { stableHash } from './hash.js';
import { Rendezvous } from './rendezvous.js';

/** The nodes an app may run on: ids ascending (= sorted by name), plus a membership mask. */
export interface Eligible {
  ids: number[];
  mask: Uint8Array;
}

export interface Board {
  /** Node names by id; ids follow name order, so nothing depends on the order of fleet.yaml. */
  names: string[];
  idOf: Map<string, number>;
  /** Memory still free per node (Infinity: no capacity given). */
  free: Float64Array;
  /** Ports taken per node. */
  used: Set<number>[];
  from: number;
  to: number;
  portCount: number;
  ranking: Rendezvous;
  eligibleFor: (labels: Record<string, string>) => Eligible;
}

export function makeBoard(config: Config): Board {
  const nodes = [...config.fleet.nodes].sort((a, b) => compare(a.name, b.name));
  const names = nodes.map((n) => n.name);
  const { from, to } = config.fleet.settings.portRange;
  return {
    names,
    idOf: new Map(names.map((name, id) => [name, id])),
    free: Float64Array.from(nodes, (n) => n.memoryBytes ?? Infinity),
    used: nodes.map(() => new Set<number>()),
    from,
    to,
    portCount: to - from + 1,
    ranking: new Rendezvous(names),
    eligibleFor: eligibility(nodes),
  };
}

/** A free port on node `id`: a hash of `key` in the port range, probing upwards on collision. */
export function probePort(board: Board, id: number, key: string): number {
  const { from, to, used } = board;
  let port = from + (stableHash(key) % board.portCount);
  while (used[id].has(port)) port = port === to ? from : port + 1;
  return port;
}

export function inPortRange(board: Board, port: number): boolean {
  return port >= board.from && port <= board.to;
}

/** Code-unit order, the same in every locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The last placement by app, process and index; of duplicates (a corrupt history) the smallest node/port wins. */
export function indexPrevious(previous: readonly Instance[]): Map<string, Map<string, Map<number, Instance>>> {
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
