// What the local driver runs for one node: the same placement as the NixOS modules, as plain
// data the driver can act on without Nix. Pure; stored in each local generation as local.json.
import type { App, Config, Healthcheck, Placement } from '../schema/model.js';
import { unitName } from './render-app.js';
import { routesOf } from './routes.js';

export interface LocalProcess {
  /** The systemd unit name the NixOS module uses for the same thing. */
  unit: string;
  app: string;
  /** A shell command, run with `sh -c`. */
  command: string;
  /** The app's source folder (build.path) relative to the generation; null: run in the app's state dir. */
  cwd: string | null;
  /** Public env (spec env, PORT); the driver adds HOST=127.0.0.1, addon URLs and secrets. */
  env: Record<string, string>;
  /** Secret names, read from --secrets-dir/<app>/<NAME> when the process starts. */
  secrets: string[];
  addons: { postgres: boolean; redis: boolean };
  /** The app's deploy.autoRollback (default: settings.rollout.autoRollback). */
  autoRollback: boolean;
  /** The digest of the app's source folder: a code change alone restarts the process. */
  sourceDigest: string | null;
}

export interface LocalInstance extends LocalProcess {
  process: string;
  index: number;
  port: number;
  healthcheck: Healthcheck | null;
}

export interface LocalRoute {
  domain: string;
  app: string;
  upstreams: { node: string; port: number }[];
  healthcheck: Healthcheck;
}

export interface LocalRunSpec {
  node: string;
  /** Sorted by unit. */
  instances: LocalInstance[];
  /** Release commands of apps anchored here: run before their instances (re)start. */
  releases: LocalProcess[];
  /** Apps whose addons run on this node. */
  postgres: string[];
  redis: string[];
  /** build.path folders the generation must contain (copied into it), sorted. */
  sources: string[];
  /** Package problems the local driver must refuse (flake, build.git, unsupported). */
  unsupported: { app: string; message: string }[];
  /** Set on ingress nodes: every domain's route across the fleet. */
  routes: LocalRoute[] | null;
  /** The domains served by web instances on this node, checked through the ingress after a switch. */
  routesOfNode: { domain: string; health: { path: string; status: number; timeoutMs: number } }[];
}

const STATIC_COMMAND = 'exec caddy file-server --root . --listen "127.0.0.1:$PORT"';

function baseProcess(app: App, unit: string, command: string): LocalProcess {
  return {
    unit,
    app: app.name,
    command,
    cwd: app.package.build?.path ?? null,
    env: { ...app.env },
    secrets: app.secrets,
    addons: { ...app.addons },
    autoRollback: app.autoRollback,
    sourceDigest: app.sourceDigest,
  };
}

function unsupportedReason(app: App): string | null {
  if (app.package.flake) return `${app.name}: package.flake needs a Nix build, which the local driver does not do; use the nixos driver`;
  if (app.package.build?.git) return `${app.name}: package.build.git needs a Nix fetch, which the local driver does not do; use build.path`;
  return null;
}

export function renderLocalRunSpec(config: Config, placement: Placement, node: string): LocalRunSpec {
  const apps = new Map(config.apps.map((a) => [a.name, a]));
  const instances: LocalInstance[] = [];
  const here = new Set<string>();
  for (const i of placement.instances) {
    if (i.node !== node) continue;
    const app = apps.get(i.app)!;
    const spec = app.processes.find((p) => p.name === i.process)!;
    here.add(app.name);
    const base = baseProcess(app, unitName(app.name, i.process, i.index), spec.command ?? STATIC_COMMAND);
    instances.push({ ...base, env: { ...base.env, PORT: String(i.port) }, process: i.process, index: i.index, port: i.port, healthcheck: spec.healthcheck });
  }
  const anchored = config.apps.filter((a) => placement.anchors[a.name] === node);
  for (const a of anchored) here.add(a.name);
  const hereApps = [...here].sort().map((n) => apps.get(n)!);
  const isIngress = config.fleet.nodes.find((n) => n.name === node)?.ingress ?? false;
  return {
    node,
    instances: instances.sort((a, b) => (a.unit < b.unit ? -1 : 1)),
    releases: anchored.filter((a) => a.release !== null).map((a) => baseProcess(a, `${a.name}-release`, a.release!)),
    postgres: anchored.filter((a) => a.addons.postgres).map((a) => a.name),
    redis: anchored.filter((a) => a.addons.redis).map((a) => a.name),
    sources: [...new Set(hereApps.flatMap((a) => (a.package.build?.path ? [a.package.build.path] : [])))].sort(),
    unsupported: hereApps.flatMap((a) => {
      const message = unsupportedReason(a);
      return message ? [{ app: a.name, message }] : [];
    }),
    routes: isIngress ? routesOf(config, placement).map((r) => ({ ...r, upstreams: r.upstreams.map((i) => ({ node: i.node, port: i.port })) })) : null,
    routesOfNode: hereApps.flatMap((a) => {
      const web = a.processes.find((p) => p.name === 'web');
      if (!web?.healthcheck || !instances.some((i) => i.app === a.name && i.process === 'web')) return [];
      const { path, status, timeoutMs } = web.healthcheck;
      return a.domains.map((domain) => ({ domain, health: { path, status, timeoutMs } }));
    }),
  };
}
