// Where the local driver keeps one simulated node (<stateDir>/local/<node>/), the ports of its
// ingress nodes, and the small file helpers every local-* module shares.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
  /** The ingress Caddy's own output: its errors (a failed request's upstream error) and health checks. */
  caddyLog: string;
  /** Caddy's admin endpoint: a socket only root can reach, and no port that two state dirs could both want. */
  caddyAdmin: string;
  /** The upstreams setDrained keeps out ('<node>:<port>'), honoured by every later activation too. */
  drained: string;
  pgDir: string;
  pgData: string;
  pgRun: string;
  redisDir: string;
}

/** Linux limits a unix socket path (sun_path) to 108 bytes including the final NUL. */
export const MAX_SOCKET_PATH = 107;

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
    caddyLog: join(dir, 'logs', 'caddy.log'),
    caddyAdmin: join(dir, 'caddy', 'admin.sock'),
    drained: join(dir, 'caddy', 'drained.json'),
    pgDir: join(dir, 'postgres'),
    pgData: join(dir, 'postgres', 'data'),
    pgRun: join(dir, 'postgres', 'run'),
    redisDir: join(dir, 'redis'),
  };
}

/**
 * The HTTP port of a local ingress node: httpPort + i, where i is the node's position in
 * <stateDir>/local/ingress.json. preflight registers a rollout's ingress nodes sorted by name,
 * so the first ingress node by name gets httpPort; a node registered later is appended, so
 * ports already handed out never move (a running Caddy and its URL stay where they are).
 * Caddy's admin endpoint is a unix socket in the node dir (see local-caddy.ts), not a port.
 */
export function ingressPort(stateDir: string, node: string, httpPort: number): number {
  const names = registerIngress(stateDir, [node]);
  return httpPort + names.indexOf(node);
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
 * The nearest ancestor of `path` that other users cannot search (no o+x), or null when every
 * ancestor is open. The postgres user cannot reach a data dir below such a directory.
 */
export function closedAncestor(path: string): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Digest of a folder's files (paths, modes, bytes) after `seed`; an empty digest for a missing
 * folder. Changed app code restarts its instances; a changed source is built again.
 */
export function digestTree(dir: string, seed = ''): string {
  const h = createHash('sha256').update(seed);
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, path));
      if (st.isDirectory()) walk(path);
      else h.update(`${path}\0${st.mode & 0o111 ? 'x' : '-'}\0`).update(readFileSync(join(dir, path))).update('\0');
    }
  };
  if (existsSync(dir)) walk('');
  return h.digest('hex');
}
