// The apps shown by /api/status and the status page, read from what each node last ran healthy
// (<state>/applied/<node>.json, written as apply writes it).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openApplied } from '../../reconciler/apply/applied.js';
import type { AppliedNode } from '../../reconciler/apply/rollout.js';
import type { ManifestApp } from '../../generators/render-types.js';
import { fleetApps } from '../../reconciler/daemon/fleet-apps.js';
import { makeTempDir } from '../helpers/tools.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeEach(() => (tmp = makeTempDir('skyrec-fleet-apps-')));
afterEach(() => tmp.cleanup());

/** What apply records for a node; fleetApps reads only the manifest's node and apps. */
function applied(node: string, apps: Record<string, Omit<ManifestApp, 'anchor'>>): AppliedNode {
  const manifestApps = Object.fromEntries(Object.entries(apps).map(([name, a]) => [name, { ...a, anchor: false }]));
  return { node: { name: node }, manifest: { node, revision: 'r', hash: 'h', system: 'x86_64-linux', ingress: false, apps: manifestApps }, run: null } as unknown as AppliedNode;
}

describe('fleetApps', () => {
  it('is empty before any node applied', () => {
    expect(fleetApps(tmp.dir)).toEqual([]);
  });

  it('merges every node: apps by name, instances by process then index, each domain once', () => {
    const store = openApplied(tmp.dir);
    store.write('web-2', applied('web-2', { shop: { processes: { web: [{ instance: 1, port: 22475 }] }, domains: ['shop.acme.example', 'www.acme.example'] }, api: { processes: { web: [{ instance: 1, port: 28022 }] }, domains: ['api.acme.example'] } }));
    store.write('web-1', applied('web-1', { shop: { processes: { worker: [{ instance: 1, port: 22477 }], web: [{ instance: 2, port: 22476 }] }, domains: ['shop.acme.example', 'www.acme.example'] }, reports: { processes: {}, domains: [] } }));
    expect(fleetApps(tmp.dir)).toEqual([
      { name: 'api', domains: ['api.acme.example'], instances: [{ process: 'web', index: 1, node: 'web-2', port: 28022 }] },
      { name: 'reports', domains: [], instances: [] },
      {
        name: 'shop',
        domains: ['shop.acme.example', 'www.acme.example'],
        instances: [
          { process: 'web', index: 1, node: 'web-2', port: 22475 },
          { process: 'web', index: 2, node: 'web-1', port: 22476 },
          { process: 'worker', index: 1, node: 'web-1', port: 22477 },
        ],
      },
    ]);
  });

  it('shows what a new apply recorded at the next call', () => {
    const store = openApplied(tmp.dir);
    store.write('web-1', applied('web-1', { api: { processes: { web: [{ instance: 1, port: 28022 }] }, domains: ['api.acme.example'] } }));
    expect(fleetApps(tmp.dir)[0].instances).toHaveLength(1);
    store.write('web-1', applied('web-1', { api: { processes: { web: [{ instance: 1, port: 28022 }, { instance: 2, port: 28023 }] }, domains: ['api.acme.example'] } }));
    expect(fleetApps(tmp.dir)[0].instances.map((i) => i.port)).toEqual([28022, 28023]);
    store.write('web-2', applied('web-2', { docs: { processes: { web: [{ instance: 1, port: 25251 }] }, domains: ['docs.acme.example'] } }));
    expect(fleetApps(tmp.dir).map((a) => a.name)).toEqual(['api', 'docs']);
    expect(fleetApps(join(tmp.dir, 'elsewhere'))).toEqual([]);
  });
});
