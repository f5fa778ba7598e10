// Digests of what renderNode reads for each node, so that a node whose inputs did not change
// is not rendered again (across the two revisions of a plan, or the cycles of the reconciler).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { App, Config } from '../schema/model.js';
import type { PlacementIndex } from './placement-index.js';
import type { RenderOptions } from './render-types.js';
import { packageRoot } from '../common/paths.js';

let renderer: string | undefined;

/** The templates themselves are inputs: a new skyrec version re-renders everything. */
function rendererDigest(): string {
  if (renderer) return renderer;
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else h.update(e.name).update('\0').update(readFileSync(join(dir, e.name))).update('\0');
    }
  };
  walk(join(packageRoot(), 'templates'));
  return (renderer = h.digest('hex'));
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

// An app's digest, once per App object: the apply and the plan of a cycle digest the same config.
const appDigests = new WeakMap<App, string>();

/** The digest of everything an app's spec says (normalized), made once per App object. */
export const digestApp = (app: App): string => appDigests.get(app) ?? appDigests.set(app, sha(JSON.stringify(app))).get(app)!;

/** An App read back from a cache (reconciler/pipeline/checked-memo.ts) with the digest its same code made of it then. */
export function rememberAppDigest(app: App, digest: string): void {
  appDigests.set(app, digest);
}

/** Per-node input digests for a whole fleet. */
export function digestInputs(config: Config, index: PlacementIndex, opts: RenderOptions): Map<string, string> {
  const appDigest = new Map(config.apps.map((a) => [a.name, digestApp(a)]));
  // Everything every node reads: settings, the node list (ingress addresses feed firewalls).
  // The flake's inputs too: a new flake.lock changes every node's manifest.
  const common = sha(JSON.stringify([rendererDigest(), config.fleet, opts.flake?.lock ? opts.flake : null]));
  // Ingress nodes read only what routes are made of: an env change elsewhere leaves them be.
  const ingress = sha(JSON.stringify(index.routes));
  // Addons: where each app's data lives and who reaches it, for every app touching a node (one pass over the addons, in their order).
  const addonLines = new Map<string, string[]>();
  for (const [app, access] of index.addons) {
    const line = `addons ${app} ${appDigest.get(app)} ${JSON.stringify(access)}\n`;
    for (const node of new Set(access.flatMap((a) => [a.node, ...a.remoteClients.map((c) => c.node)]))) (addonLines.get(node) ?? addonLines.set(node, []).get(node)!).push(line);
  }
  const digests = new Map<string, string>();
  for (const node of config.fleet.nodes) {
    const h = createHash('sha256').update(common).update(node.name);
    for (const i of index.byNode.get(node.name) ?? []) h.update(`${appDigest.get(i.app)}/${i.process}/${i.index}/${i.port}\n`);
    for (const app of index.anchoredOn.get(node.name) ?? []) h.update(`anchor ${appDigest.get(app)}\n`);
    for (const line of addonLines.get(node.name) ?? []) h.update(line);
    if (node.ingress) h.update(ingress);
    digests.set(node.name, h.digest('hex'));
  }
  return digests;
}
