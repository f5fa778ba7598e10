// The NixOS module of one app on one node: its user, one plain systemd service per instance
// (never "app@1" units: NixOS would create new empty units, nixpkgs #135557), the release
// oneshot and cron timers on the app's anchor node, and its addons.
import type { App, Instance, Settings } from '../schema/model.js';
import { escapeShellArg } from './escape.js';
import { loadTemplate } from './templates.js';

/** What the app gets on the node where its addons run: env and unit dependencies. */
export function describeAddons(app: App): { env: Record<string, string>; units: string[]; groups: string[] } {
  const env: Record<string, string> = {};
  const units: string[] = [];
  const groups: string[] = [];
  if (app.addons.postgres) {
    env.DATABASE_URL = `postgresql:///${app.name}?host=/run/postgresql`;
    units.push('postgresql.service');
  }
  if (app.addons.redis) {
    env.REDIS_URL = `unix://${redisSocket(app)}`;
    units.push(`redis-${app.name}.service`);
    groups.push(`redis-${app.name}`);
  }
  return { env, units, groups };
}

function redisSocket(app: App): string {
  return `/run/redis-${app.name}/redis.sock`;
}

/** Shell lines that export the app's environment and read its secrets from credentials. */
export function environmentLines(app: App): string[] {
  const env = { ...app.env, ...describeAddons(app).env };
  const lines = Object.keys(env).sort().map((k) => `export ${k}=${escapeShellArg(env[k])}`);
  for (const name of app.secrets) lines.push(`${name}="$(< "$CREDENTIALS_DIRECTORY/${name}")"; export ${name}`);
  return lines;
}

function packageView(app: App) {
  const p = app.package;
  const build = p.build;
  const flake = p.flake ? { ref: p.flake.slice(0, p.flake.indexOf('#')), attrPath: p.flake.slice(p.flake.indexOf('#') + 1).split('.') } : null;
  return {
    nixpkgs: p.nixpkgs ? p.nixpkgs.split('.') : null,
    flake,
    nodejs: build?.stack === 'nodejs' ? { npmDepsHash: build.npmDepsHash ?? null } : null,
    static: build?.stack === 'static' ? { name: `${app.name}-static` } : null,
  };
}

function sourceView(app: App) {
  const build = app.package.build;
  return {
    path: build?.path ? `/${build.path}` : null,
    name: `${app.name}-source`,
    git: build?.git ?? null,
    digest: app.sourceDigest,
  };
}

function instanceCommand(app: App, process: string): string {
  const spec = app.processes.find((p) => p.name === process);
  // A static site's web process needs no command: it is a file server over the package.
  return spec?.command ?? 'exec caddy file-server --root . --listen ":$PORT"';
}

export function unitName(app: string, process: string, index: number): string {
  return `${app}-${process}-${index}`;
}

/** Renders apps/<app>.nix for `node`, given the app's instances on that node. */
export function renderAppModule(app: App, node: string, instances: Instance[], isAnchor: boolean, settings: Settings): string {
  const addons = describeAddons(app);
  const runsAddons = isAnchor && (app.addons.postgres || app.addons.redis);
  const units = instances.map((i) => unitName(app.name, i.process, i.index));
  const release = isAnchor && app.release !== null;
  const addonUnits = runsAddons ? addons.units : [];
  const dependsOn = [...(release ? [`${app.name}-release.service`] : []), ...addonUnits];
  return loadTemplate('app.nix.hbs')({
    name: app.name,
    node,
    file: app.file,
    user: app.name,
    source: sourceView(app),
    package: packageView(app),
    environment: environmentLines(app),
    credentials: app.secrets.map((s) => `${s}:${settings.secretsDir}/${app.name}/${s}`),
    memory: app.resources.memory,
    cpu: app.resources.cpu,
    groups: addons.groups,
    after: ['network.target', ...dependsOn],
    requires: dependsOn,
    // The release and cron units wait for the addons only.
    oneshotAfter: ['network.target', ...addonUnits],
    oneshotRequires: addonUnits,
    instances: instances.map((i, n) => ({
      unit: units[n],
      description: `${app.name} ${i.process} instance ${i.index} (skyrec)`,
      lines: [`export PORT=${i.port}`, instanceCommand(app, i.process)],
    })),
    release: release
      ? { unit: `${app.name}-release`, description: `${app.name} release phase (skyrec)`, command: app.release, before: units.map((u) => `${u}.service`) }
      : null,
    cron: isAnchor
      ? app.cron.map((c, n) => ({ unit: `${app.name}-cron-${n + 1}`, description: `${app.name} cron ${n + 1}: ${c.schedule} (skyrec)`, schedule: c.schedule, command: c.command }))
      : [],
    postgres: runsAddons && app.addons.postgres,
    redis: runsAddons && app.addons.redis ? { socket: redisSocket(app) } : null,
  });
}
