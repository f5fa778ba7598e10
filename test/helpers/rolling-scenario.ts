// The commonest app shape under a rolling apply: shop (the Node.js app of apps.example/src/shop),
// web × 3 with PostgreSQL and Redis, on a two-node fleet whose first node is an ingress (with
// `twoIngress`, both are, and the load goes through both Caddys); either spread over both nodes
// or forced onto one. Everything is real: a git config repo, skyrec's
// binary as a child process with the local driver, Nix profiles, Caddy, PostgreSQL, Redis, the
// app's processes and a steady stream of HTTP requests through the ingress while it applies.
// Used by test/reconciler/rolling.test.ts and by `npm run bench` (test/bench/bench-rolling.ts).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { TestRepo } from './git-repo.js';
import { freePort, getText } from './tools.js';
import { runBin } from './run-bin.js';
import { nodeLayout } from '../../fleet/drivers/local/local-layout.js';

export const SHOP_HOST = 'shop.rolling.example';

export interface Scenario {
  dir: string;
  repo: TestRepo;
  state: string;
  secrets: string;
  /** The first ingress node's HTTP port (the local driver gives the next ingress node port + 1). */
  port: number;
  /** Every ingress node's HTTP port: the load and getShop go through each in turn. */
  ports: number[];
  /** The skyrec executable (bin/skyrec.js of this checkout unless given). */
  bin: string;
}

function fleetYaml(twoIngress: boolean): string {
  return `settings:
  rollout: { canary: 1, maxParallel: 2, healthTimeout: 20s, autoRollback: true }
nodes:
  - { name: web-1, host: root@10.9.0.1, address: 10.9.0.1, labels: { role: web, zone: a }, ingress: true }
  - { name: web-2, host: root@10.9.0.2, address: 10.9.0.2, labels: { role: web, zone: b }${twoIngress ? ', ingress: true' : ''} }
`;
}

/** shop's spec; `onOneNode` pins its instances (and so its data) to web-1. */
export function shopYaml(opts: { onOneNode: boolean; currency: string; command?: string; instances?: number }): string {
  return `name: shop
package: { build: { stack: nodejs, path: src/shop } }
processes:
  web:
    command: ${JSON.stringify(opts.command ?? 'node server.js')}
    instances: ${opts.instances ?? 3}
    healthcheck: { path: /healthz, interval: 1s, timeout: 2s }
release: node migrate.js
env: { SHOP_CURRENCY: ${JSON.stringify(opts.currency)} }
domains: [${SHOP_HOST}]
addons: { postgres: {}, redis: {} }
placement: { labels: { ${opts.onOneNode ? 'zone: a' : 'role: web'} } }
`;
}


export async function createScenario(opts: { onOneNode: boolean; twoIngress?: boolean; bin?: string; instances?: number }): Promise<Scenario & { initial: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-rolling-'));
  const secrets = join(dir, 'secrets');
  mkdirSync(join(secrets, 'shop'), { recursive: true });
  writeFileSync(join(secrets, 'shop', 'DATABASE_PASSWORD'), 'rolling-db-password\n');
  writeFileSync(join(secrets, 'shop', 'REDIS_PASSWORD'), 'rolling-redis-password\n');
  const repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': fleetYaml(opts.twoIngress ?? false), 'apps/shop.yaml': shopYaml({ onOneNode: opts.onOneNode, currency: 'EUR', instances: opts.instances }) });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'shop'), join(repo.dir, 'src', 'shop'), { recursive: true });
  const initial = await repo.commit('shop');
  const bin = opts.bin ?? join(packageRoot(), 'bin', 'skyrec.js');
  const port = await freePort(opts.twoIngress ? 2 : 1);
  return { dir, repo, state: join(dir, 'state'), secrets, port, ports: opts.twoIngress ? [port, port + 1] : [port], bin, initial };
}

/** A scenario whose HEAD the real binary has applied; a failed apply throws with skyrec's stderr. */
export async function deployScenario(opts: { onOneNode: boolean; twoIngress?: boolean; instances?: number }): Promise<Scenario & { initial: string }> {
  const s = await createScenario(opts);
  const r = await runSkyrec(s, ['apply', '--rev', 'HEAD']);
  if (r.code !== 0) {
    await destroyScenario(s);
    throw new Error(`skyrec apply --rev HEAD exited ${r.code}:\n${r.stderr}`);
  }
  return s;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the skyrec binary with the scenario's state, secrets and ingress port. */
export async function runSkyrec(s: Scenario, args: string[]): Promise<RunResult> {
  const argv = [...args, '--driver', 'local', '--state', s.state, ...(args[0] === 'apply' ? ['--secrets-dir', s.secrets, '--http-port', String(s.port), '--repo', s.repo.dir, '--yes'] : [])];
  const r = await runBin(argv, { bin: s.bin, env: { SKYREC_CACHE_DIR: join(s.dir, 'cache') } });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr, ms: r.ms };
}

/** GET through an ingress node (default: the first). */
export function getShop(s: Scenario, path = '/', port = s.port): Promise<{ status: number; body: string }> {
  return getText(port, SHOP_HOST, path, 10_000);
}

export interface LoadResult {
  sent: number;
  failed: number;
  /** The first few failures, as text. */
  failures: string[];
  p50: number;
  p99: number;
  max: number;
}

export interface LoadShape {
  /** Clients sending at once, each its next request once the last answered. */
  concurrency: number;
  /**
   * What each client waits between requests. 0 (the bench) sends as fast as the machine
   * answers, which takes a whole core from the rollout it measures; the tests pace the load
   * (about 150 requests a second), still a request every few ms through each drain and restart.
   */
  pauseMs: number;
}

/** The load the tests put on shop: paced, so that it leaves the rollout the CPU it needs. */
export const TEST_LOAD: LoadShape = { concurrency: 4, pauseMs: 20 };

/**
 * Sends requests to shop through the ingress nodes in turn, `concurrency` at a time, while `during` runs, and
 * for 300 ms after; every tenth request is /visits (a row in PostgreSQL, a key in Redis).
 * Bounded: at most 50,000 requests.
 */
export async function underLoad<T>(s: Scenario, during: () => Promise<T>, shape: LoadShape = { concurrency: 4, pauseMs: 0 }): Promise<{ result: T; load: LoadResult }> {
  let stop = false;
  let sent = 0;
  const failures: string[] = [];
  const latencies: number[] = [];
  const client = async () => {
    while (!stop && sent < 50_000) {
      const n = sent++;
      const path = n % 10 === 9 ? '/visits' : '/';
      // Through each ingress node in turn: a drain must hold on every one of them.
      const port = s.ports[n % s.ports.length];
      const t = performance.now();
      // When it failed and how long it took tell a retry that ran out (lb_try_duration) from one cut short.
      const at = () => `at ${new Date().toISOString()} after ${(performance.now() - t).toFixed(0)} ms`;
      try {
        const res = await getShop(s, path, port);
        if (res.status !== 200) failures.push(`${path} via :${port}: HTTP ${res.status} ${res.body.slice(0, 120)} (${at()})`);
      } catch (e) {
        failures.push(`${path} via :${port}: ${(e as Error).message} (${at()})`);
      }
      latencies.push(performance.now() - t);
      if (shape.pauseMs > 0) await new Promise((r) => setTimeout(r, shape.pauseMs));
    }
  };
  const clients = Array.from({ length: shape.concurrency }, client);
  const result = await during();
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(clients);
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { result, load: { sent, failed: failures.length, failures: failures.slice(0, 5), p50: at(0.5), p99: at(0.99), max: at(1) } };
}

/** How long each node's switch took in the last rollout, from `skyrec history --json`. */
export async function nodeSeconds(s: Scenario): Promise<Record<string, number>> {
  const r = await runSkyrec(s, ['history', '--json', '--limit', '1']);
  const [rollout] = JSON.parse(r.stdout).rollouts as { steps: { node: string; startedAt: string; finishedAt: string | null }[] }[];
  const out: Record<string, number> = {};
  for (const step of rollout?.steps ?? []) {
    if (!step.finishedAt) continue;
    const ms = Date.parse(step.finishedAt) - Date.parse(step.startedAt);
    out[step.node] = (out[step.node] ?? 0) + ms / 1000;
  }
  return out;
}

/** The ingress Caddys' error lines (http.log.error: a failed request's upstream error) and health check lines, for a failure's message. */
export function ingressErrors(s: Scenario): string[] {
  const local = join(s.state, 'local');
  const nodes = existsSync(local) ? readdirSync(local) : [];
  return nodes.flatMap((node) => {
    const log = nodeLayout(s.state, node).caddyLog;
    if (!existsSync(log)) return [];
    return readFileSync(log, 'utf8').split('\n').filter((l) => /"level":"error"|health/.test(l)).map((l) => `${node}: ${l.slice(0, 400)}`);
  });
}

export async function destroyScenario(s: Scenario): Promise<void> {
  await runSkyrec(s, ['down']);
  if (!process.env.SKYREC_KEEP_TMP) rmSync(s.dir, { recursive: true, force: true });
}
