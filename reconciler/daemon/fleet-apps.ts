// The apps the fleet runs now, as the status API and page show them: merged from the manifest of
// what each node last ran healthy (<state>/applied/<node>.json). The status page polls this, so
// the files are parsed again only when one of them was replaced (a write is a rename: new inode).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openApplied } from '../apply/applied.js';
import { instancesOf } from '../apply/write-rendered.js';
import type { AppliedNode } from '../apply/rollout.js';
import type { AppStatus } from './status-model.js';

const cache = new Map<string, { signature: string; apps: AppStatus[] }>();

/** Identifies the current set of applied files without reading them; '' when there is none. */
function signAppliedDir(dir: string): string {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .sort()
      .map((f) => {
        const s = statSync(join(dir, f), { bigint: true });
        return `${f}:${s.ino}:${s.mtimeNs}:${s.size}`;
      })
      .join('\n');
  } catch {
    return '';
  }
}

/** Every app on any node, by name; its instances by process then index; domains as the specs list them. */
function mergeApps(applied: AppliedNode[]): AppStatus[] {
  const manifests = applied.map((a) => a.manifest);
  const apps = new Map<string, AppStatus>();
  const entry = (name: string): AppStatus => {
    let e = apps.get(name);
    if (!e) apps.set(name, (e = { name, domains: [], instances: [] }));
    return e;
  };
  for (const m of manifests) {
    for (const [name, app] of Object.entries(m.apps)) {
      const e = entry(name);
      for (const d of app.domains) if (!e.domains.includes(d)) e.domains.push(d);
    }
  }
  for (const i of instancesOf(manifests)) entry(i.app).instances.push({ process: i.process, index: i.index, node: i.node, port: i.port });
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  for (const app of apps.values()) app.instances.sort((a, b) => byName(a.process, b.process) || a.index - b.index || byName(a.node, b.node));
  return [...apps.values()].sort((a, b) => byName(a.name, b.name));
}

/** The apps the fleet runs, from the state directory. Cheap when nothing was applied since the last call. */
export function fleetApps(stateDir: string): AppStatus[] {
  const dir = join(stateDir, 'applied');
  const signature = signAppliedDir(dir);
  const hit = cache.get(dir);
  if (hit && hit.signature === signature) return hit.apps;
  const apps = signature === '' ? [] : mergeApps(openApplied(stateDir).all());
  cache.set(dir, { signature, apps });
  return apps;
}
