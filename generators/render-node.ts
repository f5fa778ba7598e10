// Renders the file set of one node: default.nix importing one module per app, the Caddyfile
// on ingress nodes, and manifest.json. Pure and byte-for-byte deterministic.
import { createHash } from 'node:crypto';
import type { App, Config, Instance, Placement } from '../schema/model.js';
import type { AddonAccess } from './addons.js';
import { renderAppModule } from './render-app.js';
import { renderCaddyfile } from './render-caddy.js';
import { firewallRules, type Opening } from './firewall.js';
import { indexPlacement, type PlacementIndex } from './placement-index.js';
import type { FlakeInputs, Manifest, ManifestApp, RenderedNode, RenderOptions } from './render-types.js';
import { loadTemplate } from './templates.js';
import { renderBackupModule } from './backup-nixos.js';
import { nodeBackupSpec } from './backup-plan.js';
import { digestApp, digestInputs } from './render-inputs.js';

/** The instances of each app on one node, apps anchored or holding data there included (with no instance there), by app name. */
function groupByApp(index: PlacementIndex, node: string): Map<string, Instance[]> {
  const groups = new Map<string, Instance[]>();
  for (const i of index.byNode.get(node) ?? []) (groups.get(i.app) ?? groups.set(i.app, []).get(i.app)!).push(i);
  for (const app of [...(index.anchoredOn.get(node) ?? []), ...(index.dataOn.get(node) ?? [])]) if (!groups.has(app)) groups.set(app, []);
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const digestText = (text: string): string => createHash('sha256').update(text).digest('hex');

/** sha256 of each file (RenderedNode.fileDigests). */
export function digestFiles(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, text]) => [path, digestText(text)]));
}

export function hashFiles(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const path of Object.keys(files).sort()) h.update(path).update('\0').update(files[path]).update('\0');
  return h.digest('hex');
}

/** Firewall openings letting the ingress nodes, and only them, reach this node's web instances. */
function ingressOpenings(config: Config, node: string, instances: Instance[]): Opening[] {
  const ingress = config.fleet.nodes.filter((n) => n.ingress && n.name !== node);
  const ports = instances.filter((i) => i.process === 'web').map((i) => i.port);
  return ingress.flatMap((n) => ports.map((port) => ({ address: n.address, port })));
}

/** Everything renderAppModule reads of one app on a node, besides the node and the fleet's settings: equal keys, equal modules. */
function moduleKey(app: App, instances: Instance[], isAnchor: boolean, access: AddonAccess[]): string {
  return JSON.stringify([digestApp(app), instances, isAnchor, access]);
}

// The app modules of the node rendered last, by module key: a plan renders each node for base
// and then for head, and an app the same on both sides is rendered once. One node's modules are
// kept, never more.
let lastNode: { node: string; settings: string; modules: Map<string, string> } | null = null;
function moduleRenderer(node: string, settings: Config['fleet']['settings']) {
  const settingsJson = JSON.stringify(settings);
  if (lastNode?.node !== node || lastNode.settings !== settingsJson) lastNode = { node, settings: settingsJson, modules: new Map() };
  const { modules } = lastNode;
  return (app: App, instances: Instance[], isAnchor: boolean, access: AddonAccess[]): string => {
    const key = moduleKey(app, instances, isAnchor, access);
    let text = modules.get(key);
    if (text === undefined) modules.set(key, (text = renderAppModule(app, node, instances, isAnchor, settings, access)));
    return text;
  };
}

export function renderNode(config: Config, index: PlacementIndex, nodeName: string, inputs: string, opts: RenderOptions): RenderedNode {
  const node = config.fleet.nodes.find((n) => n.name === nodeName)!;
  const onNode = index.byNode.get(nodeName) ?? [];
  const files: Record<string, string> = {};
  // Only a locked flake is one: without flake.lock the nixos driver deploys nothing and the local
  // driver reads no flake, so a repo without one renders as before (apps.example, the demo).
  const flake = opts.flake && opts.flake.lock !== null ? opts.flake : undefined;
  const appModule = moduleRenderer(nodeName, config.fleet.settings);
  const manifest: Manifest = { node: nodeName, revision: opts.revision, hash: '', system: node.system, ingress: node.ingress, ...(flake ? { flake } : {}), apps: {} };
  const same = opts.sameFiles?.(nodeName);
  for (const [name, instances] of groupByApp(index, nodeName)) {
    const app = index.apps.get(name)!;
    const isAnchor = index.anchors[app.name] === nodeName;
    const access = index.addons.get(app.name) ?? [];
    if (!same?.has(`apps/${app.name}.nix`)) files[`apps/${app.name}.nix`] = appModule(app, instances, isAnchor, access);
    const processes: ManifestApp['processes'] = {};
    for (const i of instances) (processes[i.process] ??= []).push({ instance: i.index, port: i.port });
    manifest.apps[app.name] = { processes, domains: app.domains, anchor: isAnchor };
    const held = access.filter((a) => a.node === nodeName);
    if (held.length > 0) manifest.apps[app.name].data = Object.fromEntries(held.map((a) => [a.addon, { port: a.port, ...(a.version === undefined ? {} : { version: a.version }) }]));
  }
  // Placement gave every app whose PostgreSQL data is here the same version: the node's one server.
  const postgres = Object.values(manifest.apps).find((a) => a.data?.postgres)?.data?.postgres;
  if (node.ingress && !same?.has('Caddyfile')) files['Caddyfile'] = renderCaddyfile(config, index.routes, nodeName);
  const backupSpec = nodeBackupSpec(config, index.data, nodeName);
  // The apps whose Redis here has a password, which its backups read (only a node that backs up needs them; in config.apps order, as index.addons).
  const redisPasswords = !backupSpec ? [] : [...index.addons].filter(([, list]) => list.some((x) => x.addon === 'redis' && x.node === nodeName && x.password)).map(([name]) => name);
  const backup = renderBackupModule(backupSpec, config.fleet.settings, redisPasswords);
  if (backup) files['backup.nix'] = backup;
  files['default.nix'] = loadTemplate('node.nix.hbs')({
    node: nodeName,
    backup: backup !== null,
    apps: Object.keys(manifest.apps),
    ingress: node.ingress,
    postgres: postgres ? { package: postgres.version === undefined ? null : `postgresql_${postgres.version}` } : null,
    firewall: firewallRules(ingressOpenings(config, nodeName, onNode)),
  });
  if (same) return withDigestsOnly(nodeName, inputs, files, same, manifest, flake);
  // The flake's digests join the hash under a name no rendered file can have (no rendered path starts with '/').
  manifest.hash = hashFiles(flake ? { ...files, '/flake': JSON.stringify(flake) } : files);
  files['manifest.json'] = JSON.stringify(manifest, null, 2) + '\n';
  return { node: nodeName, inputs, files: sortKeys(files), manifest };
}

/** The digest standing for a file not rendered because it is the same in both revisions compared. */
const SAME_FILE = 'the same in both revisions';

/**
 * A node for a plan that compares digests only (RenderOptions.sameFiles): `files` lacks the
 * files left unrendered, `fileDigests` has every file, and manifest.hash is made from the
 * digests, so it equals another such node's exactly when renderNode's hashes would.
 */
function withDigestsOnly(node: string, inputs: string, files: Record<string, string>, unrendered: ReadonlySet<string>, manifest: Manifest, flake: FlakeInputs | undefined): RenderedNode {
  const digests: Record<string, string> = digestFiles(files);
  for (const path of unrendered) digests[path] = SAME_FILE;
  manifest.hash = hashFiles(flake ? { ...digests, '/flake': JSON.stringify(flake) } : digests);
  files['manifest.json'] = JSON.stringify(manifest, null, 2) + '\n';
  digests['manifest.json'] = digestText(files['manifest.json']);
  return { node, inputs, files: sortKeys(files), manifest, fileDigests: sortKeys(digests) };
}

type Revision = { config: Config; placement: Placement };

/**
 * For a plan between two revisions that compares digests only: the files of each node known to
 * be the same in both without rendering them, which neither side renders. With the same settings:
 * app modules with the same module key, and the Caddyfile where the nodes and routes are the same.
 */
export function sameFiles(base: Revision, head: Revision): (node: string) => ReadonlySet<string> {
  const settingsSame = JSON.stringify(base.config.fleet.settings) === JSON.stringify(head.config.fleet.settings);
  const keysOn = (side: Revision, node: string) => {
    const index = indexOf(side.config, side.placement);
    const keys = new Map<string, string>();
    for (const [name, instances] of groupByApp(index, node)) keys.set(name, moduleKey(index.apps.get(name)!, instances, index.anchors[name] === node, index.addons.get(name) ?? []));
    return keys;
  };
  // What renderCaddyfile reads besides the settings and the node's name: the same for every ingress node of a revision.
  const caddyKey = (side: Revision) => JSON.stringify([side.config.fleet.nodes, indexOf(side.config, side.placement).routes]);
  let caddySame: boolean | undefined;
  const memo = new Map<string, Set<string>>();
  return (node) => {
    let same = memo.get(node);
    if (!same) {
      same = new Set();
      if (settingsSame) {
        const before = keysOn(base, node);
        for (const [app, key] of keysOn(head, node)) if (before.get(app) === key) same.add(`apps/${app}.nix`);
        // The same nodes make the node an ingress on both sides or on neither.
        if (head.config.fleet.nodes.find((n) => n.name === node)?.ingress && (caddySame ??= caddyKey(base) === caddyKey(head))) same.add('Caddyfile');
      }
      memo.set(node, same);
    }
    return same;
  };
}

function sortKeys(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(files).sort().map((k) => [k, files[k]]));
}

// A plan digests a placement, then renders it: its index is made once (configs and placements are never changed once made).
const indexes = new WeakMap<Placement, { config: Config; index: PlacementIndex }>();
function indexOf(config: Config, placement: Placement): PlacementIndex {
  const hit = indexes.get(placement);
  if (hit?.config === config) return hit.index;
  const index = indexPlacement(config, placement);
  indexes.set(placement, { config, index });
  return index;
}

/** Each node's input digest (render-inputs.ts): two nodes with the same digest render the same files. */
export function nodeInputs(config: Config, placement: Placement, opts: RenderOptions): Map<string, string> {
  return digestInputs(config, indexOf(config, placement), opts);
}

export type FleetRenderOptions = RenderOptions & { only?: ReadonlySet<string>; inputs?: Map<string, string> };

/**
 * Renders single nodes of the fleet by name (those `only` names), reusing opts.renderCache where
 * inputs match; `names` in fleet.yaml order. A caller that writes or compares each node and then
 * drops it holds one node's files at a time. `inputs`: the nodeInputs of this config and
 * placement, when the caller has them already.
 */
export function fleetRenderer(config: Config, placement: Placement, opts: FleetRenderOptions): { names: string[]; get(name: string): RenderedNode | undefined } {
  // Indexed when first needed: a caller that has the digests and finds every node in the cache never needs it.
  let index: PlacementIndex | undefined;
  const indexed = () => (index ??= indexOf(config, placement));
  const digests = opts.inputs ?? digestInputs(config, indexed(), opts);
  const names = config.fleet.nodes.filter((n) => !opts.only || opts.only.has(n.name)).map((n) => n.name);
  return {
    names,
    get(name) {
      const inputs = digests.get(name);
      if (inputs === undefined || (opts.only && !opts.only.has(name))) return undefined;
      const cached = opts.renderCache?.get(inputs);
      if (cached) return cached;
      const rendered = renderNode(config, indexed(), name, inputs, opts);
      opts.renderCache?.set(inputs, rendered);
      opts.onRendered?.(name);
      return rendered;
    },
  };
}

/** Renders every node of the fleet (or those `only` names), in fleet.yaml order, one at a time as iterated. */
export function* renderNodes(config: Config, placement: Placement, opts: FleetRenderOptions): Generator<RenderedNode> {
  const renderer = fleetRenderer(config, placement, opts);
  for (const name of renderer.names) yield renderer.get(name)!;
}

/** Renders every node of the fleet (or those `only` names), in fleet.yaml order. */
export function renderFleet(config: Config, placement: Placement, opts: FleetRenderOptions): RenderedNode[] {
  return [...renderNodes(config, placement, opts)];
}
