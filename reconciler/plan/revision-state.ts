// What a plan compares: one revision's config, placement and rendered nodes, and the units it
// runs on a node. Read by the diff (plan-diff.ts) and by the reasons it gives (plan-reasons.ts).
import type { Config, Instance, Placement } from '../../schema/model.js';
import type { FlakeInputs, RenderedNode } from '../../generators/render-types.js';
import { unitName } from '../../generators/render-app.js';
import type { RevisionLabel, UnitChange } from './plan-model.js';

export interface RevisionState {
  label: RevisionLabel;
  config: Config;
  placement: Placement;
  nodes: RenderedNode[];
  /** The revision's flake.nix and flake.lock digests (absent: not read, as in tests of the pure core). */
  flake?: FlakeInputs;
}

export interface UnitInfo {
  unit: string;
  app: string;
  kind: UnitChange['kind'];
  instance?: Instance;
  cron?: number;
}

/** The units skyrec renders on a node: one per instance, plus release and cron on anchors. */
export function unitsOnNode(state: RevisionState, node: string): Map<string, UnitInfo> {
  const units = new Map<string, UnitInfo>();
  const { instances, anchored } = byNode(state);
  for (const i of instances.get(node) ?? []) units.set(unitName(i.app, i.process, i.index), { unit: unitName(i.app, i.process, i.index), app: i.app, kind: 'instance', instance: i });
  for (const app of anchored.get(node) ?? []) {
    if (app.release !== null) units.set(`${app.name}-release`, { unit: `${app.name}-release`, app: app.name, kind: 'release' });
    app.cron.forEach((_, n) => units.set(`${app.name}-cron-${n + 1}`, { unit: `${app.name}-cron-${n + 1}`, app: app.name, kind: 'cron', cron: n }));
  }
  return units;
}

// A plan asks for the units of every node that changes: index the placement once per revision, not once per node.
const indexes = new WeakMap<Placement, { config: Config; instances: Map<string, Instance[]>; anchored: Map<string, Config['apps']> }>();
function byNode(state: RevisionState) {
  let index = indexes.get(state.placement);
  if (index?.config !== state.config) {
    index = { config: state.config, instances: new Map(), anchored: new Map() };
    for (const i of state.placement.instances) (index.instances.get(i.node) ?? index.instances.set(i.node, []).get(i.node)!).push(i);
    for (const app of state.config.apps) {
      const node = state.placement.anchors[app.name];
      if (node !== undefined) (index.anchored.get(node) ?? index.anchored.set(node, []).get(node)!).push(app);
    }
    indexes.set(state.placement, index);
  }
  return index;
}
