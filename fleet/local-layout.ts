// Where the local driver keeps one simulated node (<stateDir>/local/<node>/), the ports of its
// ingress nodes, and the small file helpers every local-* module shares.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface NodeLayout {
  node: string;
  dir: string;
  /** The Nix profile whose generations are the node's "system" generations. */
  profile: string;
  /** The run spec (local.json) last activated, written after activation succeeds. */
  active: string;
  run: string;
  logs: string;
  apps: string;
  caddyDir: string;
  caddyfile: string;
  /** The upstreams setDrained keeps out ('<node>:<port>'), honoured by every later activation too. */
  drained: string;
  pgDir: string;
  pgData: string;
  pgRun: string;
  redisDir: string;
}

export function nodeLayout(stateDir: string, node: string): NodeLayout {
  const dir = join(stateDir, 'local', node);
  return {
    node,
    dir,
    profile: join(dir, 'profile'),
    active: join(dir, 'active.json'),
    run: join(dir, 'run'),
    logs: join(dir, 'logs'),
    apps: join(dir, 'apps'),
    caddyDir: join(dir, 'caddy'),
    caddyfile: join(dir, 'caddy', 'Caddyfile'),
    drained: join(dir, 'caddy', 'drained.json'),
    pgDir: join(dir, 'postgres'),
    pgData: join(dir, 'postgres', 'data'),
    pgRun: join(dir, 'postgres', 'run'),
    redisDir: join(dir, 'redis'),
  };
}

/** First Caddy admin port. Below the placement range (20000-29999) and clear of Caddy's own 2019. */
export const ADMIN_PORT_BASE = 12019;

/**
 * Ports of a local ingress node: HTTP = httpPort + i, admin = 12019 + i, where i is the node's
 * position in <stateDir>/local/ingress.json. preflight registers a rollout's ingress nodes sorted
 * by name, so the first ingress node by name gets httpPort; a node registered later is appended,
 * so ports already handed out never move (a running Caddy and its URL stay where they are).
 */
export function ingressPorts(stateDir: string, node: string, httpPort: number): { http: number; admin: number } {
  const names = registerIngress(stateDir, [node]);
  const i = names.indexOf(node);
  return { http: httpPort + i, admin: ADMIN_PORT_BASE + i };
}

export function registerIngress(stateDir: string, nodes: string[]): string[] {
  const file = join(stateDir, 'local', 'ingress.json');
  const names = readJson<string[]>(file) ?? [];
  const added = [...nodes].sort().filter((n) => !names.includes(n));
  if (added.length > 0) writeFileAtomic(file, JSON.stringify([...names, ...added], null, 2) + '\n');
  return [...names, ...added];
}

/** JSON with object keys sorted at every level, so equal data is equal text. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortDeep(value), null, 2) + '\n';
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortDeep(obj[k])]));
}

export function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Write-then-rename, so a crash never leaves half a file for the next activation to read. */
export function writeFileAtomic(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/**
 * PostgreSQL runs as the `postgres` user, which must be able to walk down to the node dir.
 * The dirs skyrec owns (stateDir, local/, the node dir) get the search bit for others (never
 * read), and an ancestor that still blocks it is reported instead of silently changed.
 */
export function makeTraversable(stateDir: string, layout: NodeLayout): string | null {
  for (const dir of [stateDir, join(stateDir, 'local'), layout.dir]) {
    mkdirSync(dir, { recursive: true });
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o011);
  }
  for (let dir = dirname(stateDir); ; dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return dir;
    if (dirname(dir) === dir) return null;
  }
}
