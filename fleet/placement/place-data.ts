// Data nodes: where each app's PostgreSQL and Redis data lives, and the Redis port there.
// Chosen between placeInstances' two instance phases (place.ts): after the instances that keep
// their place, before new ones, so that a Redis port kept from the last placement is reserved
// before a new instance could take it.
import { ADDON_NAMES, type AddonName, type App, type AppData, type Instance, type PlacementIssue } from '../../schema/model.js';
import { compare, inPortRange, probePort, type Board } from './board.js';

/** The PostgreSQL port on a data node: one cluster per node serves every app's database. */
export const POSTGRES_PORT = 5432;

/** Each app's addons: the node id and port (0: a Redis port not chosen yet). */
export type DataPlan = Map<string, Partial<Record<AddonName, { id: number; port: number }>>>;

/**
 * The data node of each addon of each app: where the data was last time, while that node is in
 * the fleet and still matches the addon's labels; else the top node of the app's own rendezvous
 * ranking (`<app>/data`, the same for both addons when their labels are the same). Placements
 * recorded before data nodes existed pinned an app with addons to one node: the node of its
 * previous instances, so that node keeps the data.
 */
export function placeData(board: Board, apps: App[], previous: readonly Instance[], previousData: Record<string, AppData>): DataPlan {
  const lastNode = new Map<string, string>();
  for (const i of previous) if (!lastNode.has(i.app) || compare(i.node, lastNode.get(i.app)!) < 0) lastNode.set(i.app, i.node);
  const data: DataPlan = new Map();
  for (const app of apps) {
    if (!app.addons.postgres && !app.addons.redis) continue;
    const addons: Partial<Record<AddonName, { id: number; port: number }>> = {};
    for (const addon of ADDON_NAMES) {
      if (!app.addons[addon]) continue;
      const { ids, mask } = board.eligibleFor(app.addonLabels[addon]);
      if (ids.length === 0) continue; // validation reports labels no node has
      const recorded = previousData[app.name];
      const last = board.idOf.get((recorded ? recorded[addon]?.node : lastNode.get(app.name)) ?? '');
      const id = last !== undefined && mask[last] ? last : board.ranking.rank(`${app.name}/data`, ids).at(0);
      addons[addon] = { id, port: addon === 'postgres' ? POSTGRES_PORT : 0 };
    }
    data.set(app.name, addons);
  }
  return data;
}

/** Reserves each Redis port kept from the last placement; returns the apps whose Redis still needs one. */
export function keepRedisPorts(board: Board, data: DataPlan, previousData: Record<string, AppData>): { app: string; id: number }[] {
  const toPort: { app: string; id: number }[] = [];
  for (const [app, addons] of data) {
    const r = addons.redis;
    if (!r) continue;
    const last = previousData[app]?.redis;
    if (last && board.idOf.get(last.node) === r.id && inPortRange(board, last.port) && !board.used[r.id].has(last.port)) {
      r.port = last.port;
      board.used[r.id].add(last.port);
    } else toPort.push({ app, id: r.id });
  }
  return toPort;
}

/** Gives the other Redis servers a port, after every instance is placed; an issue where a node has none left. */
export function assignRedisPorts(board: Board, data: DataPlan, toPort: { app: string; id: number }[]): PlacementIssue[] {
  const issues: PlacementIssue[] = [];
  for (const { app, id } of toPort) {
    if (board.used[id].size >= board.portCount) {
      issues.push({ app, path: ['addons', 'redis'], message: `no port of settings.portRange ${board.from}-${board.to} is free on ${board.names[id]} for ${app}'s Redis; widen settings.portRange` });
      continue;
    }
    const port = probePort(board, id, `${app}/redis`);
    board.used[id].add(port);
    data.get(app)!.redis!.port = port;
  }
  return issues;
}

/** The data nodes by node name, leaving out a Redis that got no port. */
export function dataByName(board: Board, data: DataPlan): Record<string, AppData> {
  const out: Record<string, AppData> = {};
  for (const [app, addons] of data) {
    const held: AppData = {};
    for (const addon of ADDON_NAMES) {
      const d = addons[addon];
      if (d && d.port > 0) held[addon] = { node: board.names[d.id], port: d.port };
    }
    out[app] = held;
  }
  return out;
}
