// A placement indexed for rendering: instances by app and by node, anchors, data nodes, addon
// access and routes, computed once per render and read by every node's renderer and digest.
import type { Config, Instance, Placement } from '../schema/model.js';
import { indexAddons } from './addons.js';
import { routesOf } from './routes.js';

/** Indexes a placement for rendering: instances by app and by node. */
export function indexPlacement(config: Config, placement: Placement) {
  const byApp = new Map<string, Instance[]>();
  const byNode = new Map<string, Instance[]>();
  for (const i of placement.instances) {
    (byApp.get(i.app) ?? byApp.set(i.app, []).get(i.app)!).push(i);
    (byNode.get(i.node) ?? byNode.set(i.node, []).get(i.node)!).push(i);
  }
  const anchoredOn = new Map<string, string[]>();
  for (const [app, node] of Object.entries(placement.anchors)) (anchoredOn.get(node) ?? anchoredOn.set(node, []).get(node)!).push(app);
  const dataOn = new Map<string, string[]>();
  for (const [app, data] of Object.entries(placement.data)) {
    for (const node of new Set(Object.values(data).map((d) => d.node))) (dataOn.get(node) ?? dataOn.set(node, []).get(node)!).push(app);
  }
  const apps = new Map(config.apps.map((a) => [a.name, a]));
  return { apps, byApp, byNode, anchors: placement.anchors, anchoredOn, dataOn, data: placement.data, addons: indexAddons(config, placement), routes: routesOf(config, placement) };
}

export type PlacementIndex = ReturnType<typeof indexPlacement>;
