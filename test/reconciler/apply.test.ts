// skyrec apply end to end with the local driver: real git, real Nix profiles, real processes,
// real Caddy, PostgreSQL and Redis, real HTTP. One config repo goes through a life of commits;
// each test starts from a deployed fleet (deployedRevision) and makes its own commits, so any
// one of them runs alone (-t) or after any other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import http from 'node:http';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { freePort, makeTempDir } from '../helpers/tools.js';

const EXAMPLE = join(packageRoot(), 'apps.example');
const BIN = join(packageRoot(), 'bin', 'skyrec.js');


/** GET through the ingress Caddy with a Host header: status and body. */
function get(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

let tmp: ReturnType<typeof makeTempDir>;
let repo: TestRepo;
let state: string;
let secrets: string;
let port: number;
const commits: Record<string, string> = {};

const apiYaml = () => readFileSync(join(EXAMPLE, 'apps', 'api.yaml'), 'utf8');
function withGreeting(greeting: string, extra: (s: string) => string = (s) => s): string {
  return extra(apiYaml().replace(/GREETING: .*/, `GREETING: "${greeting}"`));
}

function apply(rev: string, ...flags: string[]) {
  return runCli(['apply', '--repo', repo.dir, '--rev', rev, '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port), '--yes', ...flags]);
}
/**
 * The revision every node runs, healthy: deploys the initial commit first when the fleet is not
 * in that shape (a test run alone with -t, or after a test that left a node rolled back).
 */
async function deployedRevision(): Promise<string> {
  const nodes = Object.values(await status());
  const revs = new Set(nodes.map((n) => n.revision));
  if (nodes.length === 3 && revs.size === 1 && nodes.every((n) => n.status === 'healthy')) {
    // Running, not only recorded (a test may have run skyrec down): the api answers.
    const api = await get(port, 'api.acme.example').catch(() => null);
    if (api?.status === 200) return [...revs][0];
  }
  // --force: a test that failed may have left the initial commit recorded as failed.
  const r = await apply(commits.initial, '--force');
  expect(r.code, r.stderr).toBe(0);
  return commits.initial;
}

async function status(): Promise<Record<string, { generation: number; status: string; revision: string }>> {
  const r = await runCli(['status', '--json', '--driver', 'local', '--state', state]);
  return Object.fromEntries(JSON.parse(r.stdout).nodes.map((n: any) => [n.node, n]));
}

beforeAll(async () => {
  tmp = makeTempDir('skyrec-apply-');
  state = join(tmp.dir, 'state');
  secrets = join(tmp.dir, 'secrets');
  mkdirSync(join(secrets, 'shop'), { recursive: true });
  writeFileSync(join(secrets, 'shop', 'SESSION_SECRET'), 'local-test-secret-value\n');
  writeFileSync(join(secrets, 'shop', 'DATABASE_PASSWORD'), 'local-test-db-password\n');
  writeFileSync(join(secrets, 'shop', 'REDIS_PASSWORD'), 'local-test-redis-password\n');
  port = await freePort();
  const dir = join(tmp.dir, 'repo');
  cpSync(EXAMPLE, dir, { recursive: true });
  repo = new TestRepo(dir);
  await repo.git('init', '-q', '-b', 'main');
  // Short health timeouts keep a failing check from taking a minute.
  repo.write({ 'fleet.yaml': readFileSync(join(dir, 'fleet.yaml'), 'utf8').replace('healthTimeout: 60s', 'healthTimeout: 15s') });
  commits.initial = await repo.commit('initial');
}, 60_000);

afterAll(async () => {
  await runCli(['down', '--state', state]);
  if (!process.env.SKYREC_KEEP_TMP) tmp.cleanup();
  else console.log(`kept ${tmp.dir}`);
}, 60_000);

describe('skyrec apply --driver local', () => {
  it('a missing secret file stops the apply before any node switches, naming the file; --dry-run runs nothing', async () => {
    const empty = join(tmp.dir, 'no-secrets');
    mkdirSync(empty, { recursive: true });
    const otherState = join(tmp.dir, 'state-preflight');
    const base = ['apply', '--repo', repo.dir, '--rev', commits.initial, '--driver', 'local', '--state', otherState, '--http-port', String(port), '--yes'];
    const r = await runCli([...base, '--secrets-dir', empty]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(empty, 'shop', 'SESSION_SECRET'));
    expect(r.stderr).toMatch(/nothing was changed/);
    const dry = await runCli([...base, '--secrets-dir', secrets, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^Would switch 3 node\(s\)/m);
    // The order the apply switches in: the node holding the data (web-2) first.
    expect(dry.stdout).toMatch(/batch 1: web-2\n\s+\$ nix-store --add/);
    const s = await runCli(['status', '--json', '--driver', 'local', '--state', otherState]);
    expect(JSON.parse(s.stdout).nodes).toEqual([]);
    expect(existsSync(join(otherState, 'local', 'web-1', 'profile'))).toBe(false);
  }, 60_000);

  it('deploys apps.example: every domain answers through Caddy', async () => {
    const r = await apply(commits.initial);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const shop = await get(port, 'shop.acme.example');
    expect(shop.status).toBe(200);
    expect(shop.body).toContain('shop');
    expect((await get(port, 'www.acme.example')).status).toBe(200);
    expect((await get(port, 'api.acme.example')).body).toContain('api');
    expect((await get(port, 'docs.acme.example')).status).toBe(200);
    const s = await status();
    expect(Object.values(s).map((n) => n.status)).toEqual(['healthy', 'healthy', 'healthy']);
    // The secret reached the app with its value (the file's newline dropped): shop signs with it.
    const signature = createHmac('sha256', 'local-test-secret-value').update('shop-session-check').digest('hex');
    expect(JSON.parse(shop.body).sessionSignature).toBe(signature);
    expect(shop.body).not.toContain('local-test-secret-value');
  }, 120_000);

  it('a second apply of the same revision touches nothing and says so', async () => {
    const rev = await deployedRevision();
    const before = await status();
    const r = await apply(rev);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Nothing to do/m);
    expect(await status()).toEqual(before);
  }, 60_000);

  it('after skyrec down, an apply of the same revision starts every node again (as after this machine restarts), with no new generation', async () => {
    const rev = await deployedRevision();
    const before = await status();
    expect((await runCli(['down', '--driver', 'local', '--state', state])).code).toBe(0);
    await expect(get(port, 'api.acme.example')).rejects.toThrow();
    const r = await apply(rev);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/^Nothing to do/m);
    expect((await get(port, 'api.acme.example')).body).toContain('api');
    expect((await get(port, 'shop.acme.example')).status).toBe(200);
    const after = await status();
    expect(Object.fromEntries(Object.entries(after).map(([n, x]) => [n, [x.generation, x.status]]))).toEqual(Object.fromEntries(Object.entries(before).map(([n, x]) => [n, [x.generation, 'healthy']])));
    // Running again, the next apply has nothing to do.
    expect((await apply(rev)).stdout).toMatch(/^Nothing to do/m);
  }, 120_000);

  it("an env change gives only the app's nodes a new generation, and the response changes", async () => {
    await deployedRevision();
    const before = await status();
    const rev = await repo.commit('api: new greeting', { 'apps/api.yaml': withGreeting('Hello from generation two') });
    const r = await apply(rev);
    expect(r.code).toBe(0);
    const after = await status();
    const changed = Object.keys(after).filter((n) => after[n].generation !== before[n].generation).sort();
    expect(changed).toEqual(['web-1', 'web-2']);
    for (const n of changed) expect(after[n].generation).toBe(before[n].generation + 1);
    expect((await get(port, 'api.acme.example')).body).toContain('Hello from generation two');
  }, 120_000);

  it('a rolling apply under continuous load fails no request', async () => {
    await deployedRevision();
    const rev = await repo.commit('api: third greeting', { 'apps/api.yaml': withGreeting('Hello under load') });
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const latencies: number[] = [];
    const client = (async () => {
      while (!stop && ok + failures.length < 20_000) {
        const t = performance.now();
        try {
          const res = await get(port, 'api.acme.example');
          if (res.status === 200) ok++;
          else failures.push(`HTTP ${res.status}`);
        } catch (e) {
          failures.push((e as Error).message);
          if (process.env.SKYREC_KEEP_TMP) console.log(`failure at ${Date.now() / 1000}: ${(e as Error).message}`);
        }
        latencies.push(performance.now() - t);
        // Paced (~100 a second): unpaced, this client takes a core from the rollout it watches.
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    const r = await apply(rev);
    await new Promise((res) => setTimeout(res, 500));
    stop = true;
    await client;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
    console.log(`rolling apply under load: ${ok + failures.length} requests, ${failures.length} failed; latency p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms`);
    expect(r.code).toBe(0);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect((await get(port, 'api.acme.example')).body).toContain('Hello under load');
  }, 120_000);

  it('a failing health check rolls the node back, stops the rollout, and the revision is refused after', async () => {
    await deployedRevision();
    const before = await status();
    const served = (await get(port, 'api.acme.example')).body;
    const broken = withGreeting('Broken', (s) => s.replace('path: /healthz', 'path: /no-such-health-path'));
    // A revision meant to fail need not wait out 15 s (8 s: the restored generation is checked too) (settings.rollout is not rendered into any
    // node: only the rollout reads it); the next commit puts it back.
    const fleet = readFileSync(join(repo.dir, 'fleet.yaml'), 'utf8');
    const rev = await repo.commit('api: broken health path', { 'apps/api.yaml': broken, 'fleet.yaml': fleet.replace(/healthTimeout: \w+/, 'healthTimeout: 8s') });
    const r = await apply(rev).finally(() => repo.commit('fleet: health timeout back', { 'fleet.yaml': fleet }));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/failed: .*no-such-health-path/);
    expect(r.stderr).toMatch(/restored generation/);
    const after = await status();
    const rolled = Object.keys(after).filter((n) => after[n].status === 'rolled-back');
    expect(rolled).toHaveLength(1);
    expect(after[rolled[0]].generation).toBe(before[rolled[0]].generation);
    expect(readlinkGeneration(rolled[0])).toBe(before[rolled[0]].generation);
    expect((await get(port, 'api.acme.example')).body).toBe(served);
    const again = await apply(rev);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/failed on .*--force/s);
  }, 120_000);

  it('an apply killed with SIGKILL mid-rollout is finished by the next one, and the record is consistent', async () => {
    await deployedRevision();
    const rev = await repo.commit('api: after the kill', { 'apps/api.yaml': withGreeting('Hello after resume') });
    const child = spawn(process.execPath, [BIN, 'apply', '--repo', repo.dir, '--rev', rev, '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port), '--yes'], {
      env: { ...process.env, SKYREC_CACHE_DIR: join(tmp.dir, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Listening from the spawn on: an exit before the kill must not be missed.
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
      // The canary is healthy, the next batch has started: kill it now.
      if (/healthy/.test(output) && /switching/.test(output.slice(output.indexOf('healthy')))) child.kill('SIGKILL');
    });
    await exited;
    expect(child.signalCode, output).toBe('SIGKILL');
    const r = await apply(rev);
    expect(r.code).toBe(0);
    const s = await status();
    expect(Object.values(s).every((n) => n.status === 'healthy')).toBe(true);
    expect(s['web-1'].revision).toBe(rev);
    expect((await get(port, 'api.acme.example')).body).toContain('Hello after resume');
    const history = JSON.parse((await runCli(['history', '--json', '--driver', 'local', '--state', state])).stdout).rollouts;
    expect(history[0].outcome).toBe('succeeded');
    expect(history[1].outcome).toBe('interrupted');
  }, 180_000);

  it('two concurrent applies: one proceeds, the other fails fast naming the holder', async () => {
    await deployedRevision();
    const rev = await repo.commit('api: concurrent', { 'apps/api.yaml': withGreeting('Hello concurrent') });
    const child = spawn(process.execPath, [BIN, 'apply', '--repo', repo.dir, '--rev', rev, '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port), '--yes'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    for (let i = 0; i < 1500 && !existsSync(join(state, 'apply.lock')); i++) await new Promise((res) => setTimeout(res, 20));
    expect(existsSync(join(state, 'apply.lock'))).toBe(true);
    const second = await apply(rev);
    // It failed while the first still ran: it did not wait for the lock.
    expect(child.exitCode).toBe(null);
    expect(second.code).toBe(3);
    expect(second.stderr).toContain(`pid ${child.pid}`);
    expect(await exited).toBe(0);
  }, 120_000);
});

describe('skyrec rollback', () => {
  it('switches one node back a generation by hand, and the next apply switches it forward again', async () => {
    await deployedRevision();
    // A second generation on web-1 (it runs api), to go back from.
    const rev = await repo.commit('api: before the rollback', { 'apps/api.yaml': withGreeting('Hello before the rollback') });
    expect((await apply(rev)).code).toBe(0);
    const before = await status();
    const r = await runCli(['rollback', 'web-1', '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`web-1: switched from generation ${before['web-1'].generation} to ${before['web-1'].generation - 1}`);
    expect(readlinkGeneration('web-1')).toBe(before['web-1'].generation - 1);
    expect((await status())['web-1'].status).toBe('rolled-back');
    const again = await apply(rev);
    expect(again.code).toBe(0);
    expect((await status())['web-1'].status).toBe('healthy');
    expect((await get(port, 'api.acme.example')).body).toContain('Hello before the rollback');
  }, 120_000);
});

function readlinkGeneration(node: string): number {
  const link = readlinkSync(join(state, 'local', node, 'profile'));
  return Number(/-(\d+)-link$/.exec(link)![1]);
}
