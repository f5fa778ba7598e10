// The NixOS module of one app on one node: its user, one plain systemd service per instance
// (never "app@1" units: NixOS would create new empty units, nixpkgs #135557), the release
// oneshot and cron timers on the app's anchor node, and the addons whose data the node holds.
import type { App, Instance, Settings } from '../schema/model.js';
import { PASSWORD_SECRET, postgresPasswordScript, redisPasswordQuoteScript, type AddonAccess } from './addons.js';
import { escapeShellArg } from './escape.js';
import { firewallRules } from './firewall.js';
import { packageView, sourceView } from './package-view.js';
import { loadTemplate } from './templates.js';

/** Bash: percent-encodes $1 byte by byte, so that any password is safe inside a URL. */
const URLENCODE_FUNCTION =
  'skyrec_urlencode() { local LC_ALL=C s="$1" out="" c i; for ((i = 0; i < ${#s}; i++)); do c="${s:i:1}"; ' +
  'case "$c" in [A-Za-z0-9._~-]) out+="$c" ;; *) printf -v c \'%%%02X\' "\'$c"; out+="$c" ;; esac; done; printf \'%s\' "$out"; }';

export const redisSocket = (app: string) => `/run/redis-${app}/redis.sock`;

/** What the app's processes on `node` need for its addons: env lines, credentials, unit dependencies. */
export function describeAddons(app: App, node: string, access: AddonAccess[]) {
  const env: Record<string, string> = {};
  const lines: string[] = [];
  const credentials: string[] = [];
  const units: string[] = [];
  const groups: string[] = [];
  const password = (a: AddonAccess) => {
    credentials.push(PASSWORD_SECRET[a.addon]);
    return `$(skyrec_urlencode "$(< "$CREDENTIALS_DIRECTORY/${PASSWORD_SECRET[a.addon]}")")`;
  };
  for (const a of access) {
    const here = a.node === node;
    if (a.addon === 'postgres') {
      // Peer auth on the data node's socket; scram-sha-256 over TCP from the other nodes.
      if (here) env.DATABASE_URL = `postgresql:///${app.name}?host=/run/postgresql`;
      else lines.push(`DATABASE_URL="postgresql://${app.name}:${password(a)}@${a.address}:${a.port}/${app.name}"; export DATABASE_URL`);
      // postgresql.target (nixpkgs 25.11 and later) requires postgresql.service and
      // postgresql-setup.service, which runs ensureDatabases/ensureUsers: after it, the app's
      // database and role exist and the server accepts writes.
      if (here) units.push('postgresql.target');
    } else {
      if (here && !a.password) env.REDIS_URL = `unix://${redisSocket(app.name)}`;
      else if (here) lines.push(`REDIS_URL="unix://:${password(a)}@${redisSocket(app.name)}"; export REDIS_URL`);
      else lines.push(`REDIS_URL="redis://:${password(a)}@${a.address}:${a.port}"; export REDIS_URL`);
      if (here) {
        units.push(`redis-${app.name}.service`);
        groups.push(`redis-${app.name}`);
      }
    }
  }
  if (lines.length > 0) lines.unshift(URLENCODE_FUNCTION);
  return { env, lines, credentials, units, groups };
}

/** Shell lines that export the app's environment, read its secrets from credentials and assemble addon URLs. */
export function environmentLines(app: App, addons: ReturnType<typeof describeAddons>): string[] {
  const env = { ...app.env, ...addons.env };
  const lines = Object.keys(env).sort().map((k) => `export ${k}=${escapeShellArg(env[k])}`);
  for (const name of app.secrets) lines.push(`${name}="$(< "$CREDENTIALS_DIRECTORY/${name}")"; export ${name}`);
  return [...lines, ...addons.lines];
}

/** What the data node runs for the app's addons held there: the servers, pg_hba, the password step. */
function serveAddons(app: App, node: string, access: AddonAccess[], settings: Settings) {
  const held = access.filter((a) => a.node === node);
  const pg = held.find((a) => a.addon === 'postgres');
  const redis = held.find((a) => a.addon === 'redis');
  const secretPath = (a: AddonAccess) => `${settings.secretsDir}/${app.name}/${PASSWORD_SECRET[a.addon]}`;
  const cidr = (address: string) => (/^[0-9.]+$/.test(address) ? `${address}/32` : address);
  return {
    postgres: pg
      ? {
          tcp: pg.password,
          // One line per remote client node, for this app's role and database only.
          hba: pg.remoteClients.map((c) => `host ${app.name} ${app.name} ${cidr(c.address)} scram-sha-256`),
          password: pg.password
            ? {
                unit: `${app.name}-postgres-password`,
                description: `${app.name}: set the PostgreSQL role's password from its secret file (skyrec)`,
                credential: `${PASSWORD_SECRET.postgres}:${secretPath(pg)}`,
                lines: postgresPasswordScript(app.name, `"$CREDENTIALS_DIRECTORY/${PASSWORD_SECRET.postgres}"`),
              }
            : null,
        }
      : null,
    redis: redis
      ? {
          unit: `redis-${app.name}`,
          socket: redisSocket(app.name),
          port: redis.password ? redis.port : 0,
          bind: redis.password ? redis.address : null,
          password: redis.password ? redisPasswordUnit(app.name, secretPath(redis)) : null,
        }
      : null,
    firewall: held.flatMap((a) => a.remoteClients.map((c) => ({ address: c.address, port: a.port }))),
  };
}

/** The oneshot that writes the Redis password, quoted for redis.conf, where requirePassFile points. */
function redisPasswordUnit(app: string, secretFile: string) {
  const runtimeDirectory = `skyrec-redis-${app}`;
  return {
    unit: `redis-${app}-password`,
    description: `${app}: quote the Redis password from its secret file for redis.conf (skyrec)`,
    credential: `${PASSWORD_SECRET.redis}:${secretFile}`,
    runtimeDirectory,
    passFile: `/run/${runtimeDirectory}/requirepass`,
    lines: redisPasswordQuoteScript(`"$CREDENTIALS_DIRECTORY/${PASSWORD_SECRET.redis}"`, '"$RUNTIME_DIRECTORY/requirepass"'),
  };
}

function instanceCommand(app: App, process: string): string {
  const spec = app.processes.find((p) => p.name === process);
  // A static site's web process needs no command: it is a file server over the package.
  return spec?.command ?? 'exec caddy file-server --root . --listen ":$PORT"';
}

/** Where a node keeps what `skyrec run` needs for an app, under /etc (fleet/drivers/nixos/nixos-run.ts reads them). */
export function runFiles(app: string): { script: string; command: string; properties: string } {
  return { script: `${app}-run`, command: `skyrec/run/${app}/command`, properties: `skyrec/run/${app}/properties` };
}

export function unitName(app: string, process: string, index: number): string {
  return `${app}-${process}-${index}`;
}

/**
 * Renders apps/<app>.nix for `node`: the app's instances there, its release and cron when the
 * node is its anchor, and the addons whose data the node holds.
 */
export function renderAppModule(app: App, node: string, instances: Instance[], isAnchor: boolean, settings: Settings, access: AddonAccess[] = []): string {
  const addons = describeAddons(app, node, access);
  const serve = serveAddons(app, node, access, settings);
  const units = instances.map((i) => unitName(app.name, i.process, i.index));
  const release = isAnchor && app.release !== null;
  const dependsOn = [...(release ? [`${app.name}-release.service`] : []), ...addons.units];
  const secrets = [...new Set([...app.secrets, ...addons.credentials])].sort();
  return loadTemplate('app.nix.hbs')({
    name: app.name,
    node,
    file: app.file,
    user: app.name,
    source: sourceView(app),
    package: packageView(app),
    environment: environmentLines(app, addons),
    credentials: secrets.map((s) => `${s}:${settings.secretsDir}/${app.name}/${s}`),
    memory: app.resources.memory,
    cpu: app.resources.cpu,
    groups: addons.groups,
    after: ['network.target', ...dependsOn],
    wants: dependsOn,
    // The release and cron units wait for the addons only; like the instances, they want them
    // rather than require them, so that a restart of an addon does not re-run a release.
    oneshotAfter: ['network.target', ...addons.units],
    oneshotWants: addons.units,
    instances: instances.map((i, n) => ({
      unit: units[n],
      description: `${app.name} ${i.process} instance ${i.index} (skyrec)`,
      lines: [`export PORT=${i.port}`, instanceCommand(app, i.process)],
      // Web instances are restarted by the rollout one at a time (drain, restart, check, add
      // back), never all at once by switch-to-configuration.
      rolling: i.process === 'web',
    })),
    release: release
      ? { unit: `${app.name}-release`, description: `${app.name} release phase (skyrec)`, command: app.release, before: units.map((u) => `${u}.service`) }
      : null,
    cron: isAnchor
      ? app.cron.map((c, n) => ({ unit: `${app.name}-cron-${n + 1}`, description: `${app.name} cron ${n + 1}: ${c.schedule} (skyrec)`, schedule: c.schedule, command: c.command }))
      : [],
    // `skyrec run` takes the environment of a process the node runs: an instance or the release.
    run: units.length > 0 || release ? runFiles(app.name) : null,
    postgres: serve.postgres,
    redis: serve.redis,
    firewall: firewallRules(serve.firewall),
  });
}
