// Small builders for the normalized model, with the defaults validation would fill in.
import type { App, Config, Node, Process, Settings } from '../../schema/model.js';

const UNIT: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** '512M' → 536870912, as the spec's size syntax (powers of 1024). */
export function bytes(size: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(size);
  if (!m) throw new Error(`bad size ${size}`);
  return Number(m[1]) * UNIT[m[2]];
}

export function makeNode(name: string, over: Partial<Node> & { memory?: string } = {}): Node {
  const { memory, ...rest } = over;
  return {
    name,
    host: `root@${name}`,
    address: `10.0.0.${(name.length * 7) % 250}`,
    system: 'x86_64-linux',
    labels: {},
    memoryBytes: memory === undefined ? null : bytes(memory),
    ingress: false,
    buildHost: null,
    sudo: null,
    ...rest,
  };
}

export function makeProcess(name: string, instances = 1, over: Partial<Process> = {}): Process {
  return {
    name,
    command: `${name} --port $PORT`,
    instances,
    healthcheck: name === 'web' ? { path: '/', intervalMs: 5000, timeoutMs: 2000, status: 200 } : null,
    ...over,
  };
}

/**
 * An app; `processes` may be given as `{ web: 2, worker: 1 }` and `memory` as '512M'.
 * `labels` sets placementLabels.
 */
export function makeApp(
  name: string,
  over: Omit<Partial<App>, 'processes'> & {
    processes?: Process[] | Record<string, number>;
    memory?: string;
    labels?: Record<string, string>;
  } = {},
): App {
  const { processes, memory, labels, ...rest } = over;
  const procs = Array.isArray(processes)
    ? processes
    : Object.entries(processes ?? { web: 1 }).map(([p, n]) => makeProcess(p, n));
  return {
    name,
    file: `apps/${name}.yaml`,
    package: { nixpkgs: 'hello' },
    processes: [...procs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    release: null,
    cron: [],
    env: {},
    secrets: [],
    domains: [],
    resources: { memory: memory ?? null, memoryBytes: memory === undefined ? 0 : bytes(memory), cpu: null },
    addons: { postgres: false, redis: false },
    postgresVersion: null,
    addonLabels: { postgres: labels ?? {}, redis: labels ?? {} },
    placementLabels: labels ?? {},
    autoRollback: true,
    sourceDigest: null,
    ...rest,
  };
}

export function makeConfig(opts: {
  nodes: Node[];
  apps: App[];
  portRange?: { from: number; to: number };
}): Config {
  const settings: Settings = {
    branch: 'main',
    acmeEmail: null,
    secretsDir: '/run/secrets',
    portRange: opts.portRange ?? { from: 20000, to: 29999 },
    rollout: { maxParallel: 2, canary: 1, healthTimeoutMs: 60000, autoRollback: true },
  };
  const apps = [...opts.apps].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { fleet: { settings, nodes: opts.nodes }, apps };
}
