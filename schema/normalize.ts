// Turn schema-valid specs into the normalized Config: every default filled in, sizes in
// bytes, durations in milliseconds, lists in a stable order. Pure; runs only on specs that
// passed every check, so it does not re-validate.
import type { App, AppSpec, Config, FleetSpec, Healthcheck, Node, Process, Settings } from './model.js';
import type { HealthcheckSpec, NodeSpec, ProcessSpec } from './spec-types.js';
import { appBackup, normalizeBackups, type BackupTarget } from './backup-spec.js';

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** '512M' → 536870912. NaN when the text is not a size or the result is not a safe integer. */
export function parseSize(text: string): number {
  const m = /^([0-9]+)([KMGT]?)$/.exec(text);
  const bytes = m ? Number(m[1]) * SIZE_UNITS[m[2]] : NaN;
  return Number.isSafeInteger(bytes) ? bytes : NaN;
}

/** '5s' → 5000, '250ms' → 250. NaN when the text is not a duration. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  return m ? Number(m[1]) * DURATION_MS[m[2]] : NaN;
}

export function normalizeSettings(spec: FleetSpec['settings'] = {}): Settings {
  const rollout = spec.rollout ?? {};
  return {
    branch: spec.branch ?? 'main',
    acmeEmail: spec.acmeEmail ?? null,
    secretsDir: spec.secretsDir ?? '/run/secrets',
    portRange: spec.portRange ? { from: spec.portRange.from, to: spec.portRange.to } : { from: 20000, to: 29999 },
    rollout: {
      maxParallel: rollout.maxParallel ?? 2,
      canary: rollout.canary ?? 1,
      healthTimeoutMs: parseDuration(rollout.healthTimeout ?? '60s'),
      autoRollback: rollout.autoRollback ?? true,
    },
  };
}

export function normalizeNode(spec: NodeSpec): Node {
  return {
    name: spec.name,
    host: spec.host,
    address: spec.address,
    system: spec.system ?? 'x86_64-linux',
    labels: { ...spec.labels },
    memoryBytes: spec.capacity?.memory ? parseSize(spec.capacity.memory) : null,
    ingress: spec.ingress ?? false,
    buildHost: spec.buildHost ?? null,
    sudo: spec.sudo ?? null,
  };
}

export function normalizeApp(spec: AppSpec, file: string, settings: Settings, backups: BackupTarget | null = null): App {
  const processes = Object.entries(spec.processes ?? {})
    .map(([name, p]) => normalizeProcess(name, p))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const env: Record<string, string> = {};
  for (const key of Object.keys(spec.env ?? {}).sort()) env[key] = String(spec.env![key]);
  return {
    name: spec.name,
    file,
    package: structuredClone(spec.package),
    processes,
    release: spec.release ?? null,
    cron: (spec.cron ?? []).map((c) => ({ schedule: c.schedule, command: c.command })),
    env,
    secrets: [...(spec.secrets ?? [])].sort(),
    domains: [...(spec.domains ?? [])],
    resources: {
      memory: spec.resources?.memory ?? null,
      memoryBytes: spec.resources?.memory ? parseSize(spec.resources.memory) : 0,
      cpu: spec.resources?.cpu ?? null,
    },
    addons: { postgres: spec.addons?.postgres !== undefined, redis: spec.addons?.redis !== undefined },
    postgresVersion: spec.addons?.postgres?.version ?? null,
    addonLabels: {
      postgres: { ...(spec.addons?.postgres?.placement?.labels ?? spec.placement?.labels) },
      redis: { ...(spec.addons?.redis?.placement?.labels ?? spec.placement?.labels) },
    },
    ...appBackup(spec, backups),
    placementLabels: { ...spec.placement?.labels },
    autoRollback: spec.deploy?.autoRollback ?? settings.rollout.autoRollback,
    sourceDigest: null,
  };
}

/** The Config for a fleet and its apps (apps given in any order; sorted by name here). */
export function normalizeConfig(fleet: FleetSpec, apps: { spec: AppSpec; file: string }[]): Config {
  const settings = normalizeSettings(fleet.settings);
  const backups = normalizeBackups(fleet.backups);
  return {
    fleet: { settings, nodes: fleet.nodes.map(normalizeNode), ...(backups ? { backups } : {}) },
    apps: apps
      .map((a) => normalizeApp(a.spec, a.file, settings, backups))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

function normalizeProcess(name: string, spec: ProcessSpec): Process {
  const healthcheck = spec.healthcheck || name === 'web' ? normalizeHealthcheck(spec.healthcheck ?? {}) : null;
  return { name, command: spec.command ?? null, instances: spec.instances ?? 1, healthcheck };
}

function normalizeHealthcheck(spec: HealthcheckSpec): Healthcheck {
  return {
    path: spec.path ?? '/',
    intervalMs: parseDuration(spec.interval ?? '5s'),
    timeoutMs: parseDuration(spec.timeout ?? '2s'),
    status: spec.status ?? 200,
  };
}
