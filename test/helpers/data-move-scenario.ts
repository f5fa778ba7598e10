// A local fleet whose shop (apps.example/src/shop, web × 2 on the ingress node `web`) keeps its
// PostgreSQL data on the node labelled role: db (db-1 or db-2) and its Redis on `cache` (so that
// only the PostgreSQL data moves), with a path: backup target and one node switched at a time
// (data nodes first): the data-move tests and bench move that data by relabelling or losing
// nodes. `createMoveScenario({ fleet, nodes, shop })` gives another layout (the Redis move test). All real: a git config
// repo, skyrec's binary as a child process, PostgreSQL, pgBackRest, Caddy, the app's processes,
// and HTTP through the ingress. `load` counts what clients see: 200, the maintenance 503, any
// other answer, connection errors.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { TestRepo } from './git-repo.js';
import { freePort, getText } from './tools.js';
import { runBin, type BinResult } from './run-bin.js';

export const MOVE_HOST = 'shop.move.example';

export interface DataNodeLabels {
  /** Nodes in fleet.yaml with their role; `web` (the ingress) is always there. */
  [node: string]: 'db' | 'spare';
}

export function fleetYaml(backupRepo: string, nodes: DataNodeLabels): string {
  const data = Object.entries(nodes).map(([name, role], i) => `  - { name: ${name}, host: root@10.8.0.${i + 2}, address: 10.8.0.${i + 2}, labels: { role: ${role} } }\n`);
  return `settings:
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 20s, autoRollback: true }
nodes:
  - { name: web, host: root@10.8.0.1, address: 10.8.0.1, labels: { role: web }, ingress: true }
  - { name: cache, host: root@10.8.0.9, address: 10.8.0.9, labels: { role: cache } }
${data.join('')}backups:
  path: ${backupRepo}
  key: BACKUP_KEY
`;
}

export const shopYaml = `name: shop
package: { build: { stack: nodejs, path: src/shop } }
processes:
  web:
    command: node server.js
    instances: 2
    healthcheck: { path: /healthz, interval: 1s, timeout: 2s }
release: node migrate.js
domains: [${MOVE_HOST}]
addons:
  postgres: { placement: { labels: { role: db } } }
  redis: { placement: { labels: { role: cache } } }
placement: { labels: { role: web } }
`;

export type RunResult = BinResult;

export interface MoveScenario {
  dir: string;
  repo: TestRepo;
  state: string;
  backupRepo: string;
  port: number;
  key: string;
  /** Writes fleet.yaml into the working tree (apply reads the working tree). */
  setNodes(nodes: DataNodeLabels | Record<string, string>): void;
  /** The skyrec binary with the scenario's flags; `onSpawn` gets the child (to kill it). */
  skyrec(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<RunResult>;
  /** SQL as postgres on a node's cluster (default database shop). */
  psql(node: string, sql: string, db?: string): Promise<string>;
  destroy(): Promise<void>;
}

export interface MoveScenarioOptions {
  /** fleet.yaml from the backup target and the nodes' roles (default: fleetYaml above). */
  fleet?: (backupRepo: string, nodes: Record<string, string>) => string;
  /** The first deploy's nodes (default: db-1 holds the data, db-2 is spare). */
  nodes?: Record<string, string>;
  shop?: string;
}

export async function createMoveScenario(opts: MoveScenarioOptions = {}): Promise<MoveScenario> {
  const fleet = opts.fleet ?? (fleetYaml as (backupRepo: string, nodes: Record<string, string>) => string);
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-move-'));
  const state = join(dir, 'state');
  const secrets = join(dir, 'secrets');
  const backupRepo = join(dir, 'backups');
  const key = `repo-key-${randomBytes(12).toString('hex')}`;
  for (const [app, name, value] of [['shop', 'DATABASE_PASSWORD', `db-${randomBytes(8).toString('hex')}`], ['shop', 'REDIS_PASSWORD', `redis-${randomBytes(8).toString('hex')}`], ['_skyrec', 'BACKUP_KEY', key]]) {
    mkdirSync(join(secrets, app), { recursive: true });
    writeFileSync(join(secrets, app, name), `${value}\n`);
  }
  const repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': fleet(backupRepo, opts.nodes ?? { 'db-1': 'db', 'db-2': 'spare' }), 'apps/shop.yaml': opts.shop ?? shopYaml });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'shop'), join(repo.dir, 'src', 'shop'), { recursive: true });
  await repo.commit('shop');
  const port = await freePort();
  const skyrec = (args: string[], onSpawn?: (child: ChildProcess) => void): Promise<RunResult> => {
    const driverFlags = ['--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port)];
    const flags = args[0] === 'plan' ? ['--repo', repo.dir] : args[0] === 'down' ? driverFlags.slice(0, 4) : args[0] === 'apply' ? [...driverFlags, '--repo', repo.dir, '--yes'] : driverFlags;
    return runBin([...args, ...flags], { env: { SKYREC_CACHE_DIR: join(dir, 'cache') }, onSpawn });
  };
  const psql = async (node: string, sql: string, db = 'shop') => {
    const pg = join(state, 'local', node, 'postgres');
    const pgPort = readFileSync(join(pg, 'port'), 'utf8').trim();
    return (await exec(['psql', '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', join(pg, 'run'), '-p', pgPort, '-U', 'postgres', '-d', db], { input: sql + '\n', timeout: 120_000 })).stdout.trim();
  };
  const destroy = async () => {
    await skyrec(['down']);
    if (!process.env.SKYREC_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  };
  const s: MoveScenario = { dir, repo, state, backupRepo, port, key, setNodes: (nodes) => writeFileSync(join(repo.dir, 'fleet.yaml'), fleet(backupRepo, nodes)), skyrec, psql, destroy };
  const r = await skyrec(['apply']);
  if (r.code !== 0) {
    await destroy();
    throw new Error(`the data-move scenario's apply failed (exit ${r.code}):\n${r.stderr.split('\n').slice(-20).join('\n')}`);
  }
  return s;
}

/** Runs skyrec and SIGKILLs it as soon as `when()` names something (polled every 20 ms); what it named ('' if never). */
export async function killWhen(s: MoveScenario, args: string[], when: () => string | undefined): Promise<{ run: RunResult; seen: string }> {
  let seen = '';
  const run = await s.skyrec(args, (child) => {
    const timer = setInterval(() => {
      const found = when();
      if (found) {
        seen = found;
        child.kill('SIGKILL');
        clearInterval(timer);
      }
    }, 20);
    child.on('close', () => clearInterval(timer));
  });
  return { run, seen };
}

export function visit(port: number): Promise<{ status: number; body: string }> {
  return getText(port, MOVE_HOST, '/visits');
}

export interface LoadCounts {
  /** 200: a row committed. */
  ok: number;
  /** 503 with the maintenance page. */
  maintenance: number;
  /** Any other HTTP answer, and connection errors: the first few as text. */
  other: number;
  errors: number;
  samples: string[];
  /** The longest run of maintenance answers, first to last (ms). */
  pauseMs: number;
}

/** How the writers press: `concurrency` clients, each waiting `pauseMs` after an answer before its next request. */
export interface WriteLoad {
  concurrency: number;
  pauseMs: number;
}

/**
 * The tests' writes: paced. Unpaced, three clients get the maintenance 503 back as fast as Caddy
 * answers it (~1,200 a second in the bench), which takes a core from the move they watch; 10 ms
 * apart they still see every phase (200, then 503s, then 200 from the new node).
 */
export const TEST_WRITES: WriteLoad = { concurrency: 3, pauseMs: 10 };

/** Writes a row per request (/visits) through the ingress while `during` runs (the bench: unpaced, as hard as it can). */
export async function writeUnderLoad<T>(port: number, during: () => Promise<T>, load: WriteLoad = { concurrency: 3, pauseMs: 0 }): Promise<{ result: T; counts: LoadCounts }> {
  const counts: LoadCounts = { ok: 0, maintenance: 0, other: 0, errors: 0, samples: [], pauseMs: 0 };
  let stop = false;
  let first: number | null = null;
  let last: number | null = null;
  const client = async () => {
    while (!stop) {
      try {
        const r = await visit(port);
        if (r.status === 200) counts.ok++;
        else if (r.status === 503 && /maintenance/i.test(r.body)) {
          counts.maintenance++;
          first ??= performance.now();
          last = performance.now();
        } else {
          counts.other++;
          if (counts.samples.length < 5) counts.samples.push(`HTTP ${r.status} ${r.body.slice(0, 160)}`);
        }
      } catch (e) {
        counts.errors++;
        if (counts.samples.length < 5) counts.samples.push((e as Error).message);
      }
      if (load.pauseMs > 0 && !stop) await new Promise((r) => setTimeout(r, load.pauseMs));
    }
  };
  const clients = Array.from({ length: load.concurrency }, client);
  let result: T;
  try {
    result = await during();
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  counts.pauseMs = first !== null && last !== null ? Math.round(last - first) : 0;
  return { result, counts };
}
