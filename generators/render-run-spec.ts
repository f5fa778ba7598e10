// What runs on one node, as plain data: the same placement as the NixOS modules, in a form every
// driver acts on without Nix (which units to start, drain and health-check; the rollout's order).
// The local driver also runs it as is. Pure; stored in each local generation as local.json.
import type { App, Config, Healthcheck, Placement } from '../schema/model.js';
import { indexAddons, PASSWORD_SECRET, type AddonAccess } from './addons.js';
import { unitName } from './render-app.js';
import { routesOf } from './routes.js';
import { backupSecrets, FLEET_SECRETS, nodeBackupSpec, type NodeBackupSpec } from './backup-plan.js';

export interface RunProcess {
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
  /** Where each addon's data lives; the driver builds DATABASE_URL and REDIS_URL from it. */
  addons: { postgres: RunAddon | null; redis: RunAddon | null };
  /** The app's deploy.autoRollback (default: settings.rollout.autoRollback). */
  autoRollback: boolean;
  /** The digest of the app's source folder: a code change alone restarts the process. */
  sourceDigest: string | null;
}

export interface RunAddon {
  /** The data node. */
  node: string;
  /** redis: the server's TCP port (local nodes share 127.0.0.1); postgres: the data node's own cluster port decides. */
  port: number;
  /** Reached with the password in <secrets>/<app>/DATABASE_PASSWORD or REDIS_PASSWORD. */
  password: boolean;
}

export interface RunInstance extends RunProcess {
  process: string;
  index: number;
  port: number;
  healthcheck: Healthcheck | null;
}

/** A compiled stack's source folder: the driver builds its programs into <path>/bin from the host's toolchain. */
export interface RunBuild {
  path: string;
  stack: 'go' | 'rust';
  /** go: vendor/ is committed, so the build reads it (-mod=vendor). */
  vendored: boolean;
}

export interface RunRoute {
  domain: string;
  app: string;
  upstreams: { node: string; port: number }[];
  healthcheck: Healthcheck;
}

export interface NodeRunSpec {
  node: string;
  /** Sorted by unit. */
  instances: RunInstance[];
  /** Release commands of apps anchored here: run before their instances (re)start. */
  releases: RunProcess[];
  /** Apps whose addon data this node holds; `password`: remote clients connect over TCP with one. */
  postgres: { app: string; password: boolean }[];
  redis: { app: string; port: number; password: boolean }[];
  /** build.path folders the generation must contain (copied into it), sorted. */
  sources: string[];
  /** Sources compiled into their own bin/ (go, rust) once copied, sorted by path (absent in generations from before it existed). */
  builds?: RunBuild[];
  /** Package problems the local driver must refuse (flake, build.git, unsupported). */
  unsupported: { app: string; message: string }[];
  /** Set on ingress nodes: every domain's route across the fleet. */
  routes: RunRoute[] | null;
  /** What the node backs up (absent: nothing, or a generation from before backups). */
  backup?: NodeBackupSpec;
  /** The domains served by web instances on this node, checked through the ingress after a switch. */
  routesOfNode: { domain: string; health: { path: string; status: number; timeoutMs: number } }[];
}

const STATIC_COMMAND = 'exec caddy file-server --root . --listen "127.0.0.1:$PORT"';

const addonOf = (access: AddonAccess[], addon: 'postgres' | 'redis'): RunAddon | null => {
  const a = access.find((x) => x.addon === addon);
  return a ? { node: a.node, port: a.port, password: a.password } : null;
};

function baseProcess(app: App, unit: string, command: string, access: AddonAccess[]): RunProcess {
  return {
    unit,
    app: app.name,
    command,
    cwd: app.package.build?.path ?? null,
    env: { ...app.env },
    secrets: app.secrets,
    addons: { postgres: addonOf(access, 'postgres'), redis: addonOf(access, 'redis') },
    autoRollback: app.autoRollback,
    sourceDigest: app.sourceDigest,
  };
}

function unsupportedReason(app: App): string | null {
  if (app.package.flake) return `${app.name}: package.flake needs a Nix build, which the local driver does not do; use the nixos driver`;
  if (app.package.build?.git) return `${app.name}: package.build.git needs a Nix fetch, which the local driver does not do; use build.path`;
  // The local driver builds from the host's toolchains, offline: only what needs no download.
  const { stack } = app.package.build ?? {};
  const deps = app.buildFacts?.deps;
  const fetches = 'which the local driver does not download; use the nixos driver, or an app without third-party dependencies';
  if (stack === 'python' && deps !== 'none') return `${app.name}: its uv.lock dependencies need a Nix build (uv2nix), ${fetches}`;
  if (stack === 'go' && deps === 'hash') return `${app.name}: go.mod requires modules and vendor/ is not committed, ${fetches} (or commit vendor/)`;
  if (stack === 'rust' && deps !== 'none') return `${app.name}: Cargo.lock names crates from a registry or git, ${fetches}`;
  return null;
}

function localBuilds(apps: App[]): RunBuild[] {
  const builds = new Map<string, RunBuild>();
  for (const a of apps) {
    const b = a.package.build;
    if (b?.path && (b.stack === 'go' || b.stack === 'rust')) builds.set(b.path, { path: b.path, stack: b.stack, vendored: a.buildFacts?.deps === 'vendored' });
  }
  return [...builds.values()].sort((x, y) => (x.path < y.path ? -1 : 1));
}

export function renderRunSpec(config: Config, placement: Placement, node: string, addons = indexAddons(config, placement)): NodeRunSpec {
  const apps = new Map(config.apps.map((a) => [a.name, a]));
  const accessOf = (app: string) => addons.get(app) ?? [];
  const instances: RunInstance[] = [];
  const here = new Set<string>();
  for (const i of placement.instances) {
    if (i.node !== node) continue;
    const app = apps.get(i.app)!;
    const spec = app.processes.find((p) => p.name === i.process)!;
    here.add(app.name);
    const base = baseProcess(app, unitName(app.name, i.process, i.index), spec.command ?? STATIC_COMMAND, accessOf(app.name));
    instances.push({ ...base, env: { ...base.env, PORT: String(i.port) }, process: i.process, index: i.index, port: i.port, healthcheck: spec.healthcheck });
  }
  const anchored = config.apps.filter((a) => placement.anchors[a.name] === node);
  for (const a of anchored) here.add(a.name);
  const held = (addon: 'postgres' | 'redis') =>
    config.apps.flatMap((a) => accessOf(a.name).filter((x) => x.addon === addon && x.node === node).map((x) => ({ app: a.name, port: x.port, password: x.password })));
  const hereApps = [...here].sort().map((n) => apps.get(n)!);
  const isIngress = config.fleet.nodes.find((n) => n.name === node)?.ingress ?? false;
  const backup = nodeBackupSpec(config, placement.data, node);
  return {
    ...(backup ? { backup } : {}),
    node,
    instances: instances.sort((a, b) => (a.unit < b.unit ? -1 : 1)),
    releases: anchored.filter((a) => a.release !== null).map((a) => baseProcess(a, `${a.name}-release`, a.release!, accessOf(a.name))),
    postgres: held('postgres').map(({ app, password }) => ({ app, password })),
    redis: held('redis'),
    sources: [...new Set(hereApps.flatMap((a) => (a.package.build?.path ? [a.package.build.path] : [])))].sort(),
    builds: localBuilds(hereApps),
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

/** The secret files a node's run spec reads: its processes' secrets and the addon passwords it uses or serves. */
export function requiredSecrets(spec: NodeRunSpec): { app: string; name: string }[] {
  const out = new Map<string, { app: string; name: string }>();
  const add = (app: string, name: string) => out.set(`${app}/${name}`, { app, name });
  for (const proc of [...spec.instances, ...spec.releases]) {
    for (const name of proc.secrets) add(proc.app, name);
    if (proc.addons.postgres?.password && proc.addons.postgres.node !== spec.node) add(proc.app, PASSWORD_SECRET.postgres);
    if (proc.addons.redis?.password) add(proc.app, PASSWORD_SECRET.redis);
  }
  for (const p of spec.postgres) if (p.password) add(p.app, PASSWORD_SECRET.postgres);
  for (const r of spec.redis) if (r.password) add(r.app, PASSWORD_SECRET.redis);
  for (const name of backupSecrets(spec.backup)) add(FLEET_SECRETS, name);
  return [...out.values()].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
