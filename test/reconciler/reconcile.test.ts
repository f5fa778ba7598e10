// `skyrec reconcile --once`, cycle after cycle, following a branch pushed to a real smart-HTTP
// remote (git http-backend with token auth) and deploying with the local driver: real git,
// Nix profiles, processes, Caddy and HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { signBody } from '../../reconciler/daemon/webhook.js';
import http from 'node:http';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { Reconciler } from '../../reconciler/daemon/scheduler.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { freePort, getJson, makeTempDir } from '../helpers/tools.js';

const TOKEN = 'reconcile-token-7d1e';
const FLEET = `settings:
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 6s }
nodes:
  - { name: web-1, host: root@10.9.1.1, address: 10.9.1.1, labels: { role: web }, ingress: true }
`;
const api = (o: { instances?: string; greeting?: string; health?: string } = {}) => `name: api
package: { build: { stack: nodejs, path: src/api } }
processes:
  web:
    command: node server.js
    instances: ${o.instances ?? '1'}
    healthcheck: { path: ${o.health ?? '/healthz'}, interval: 1s }
env: { GREETING: ${JSON.stringify(o.greeting ?? 'one')} }
domains: [api.reconcile.example]
`;

let tmp: ReturnType<typeof makeTempDir>;
let server: GitHttpServer;
let work: TestRepo;
let bare: string;
let state: string;
let port: number;


async function greeting(): Promise<string> {
  return (await getJson(port, 'api.reconcile.example')).greeting as string;
}

async function push(message: string, files: Record<string, string>): Promise<string> {
  const rev = await work.commit(message, files);
  await work.git('push', '-q', bare, 'main');
  return rev;
}

const cycle = () =>
  runCli(['reconcile', '--once', '--json', '--repo', `${server.url}/config.git`, '--driver', 'local', '--state', state, '--http-port', String(port)], { env: { SKYREC_GIT_TOKEN: TOKEN } });
const generation = () => JSON.parse(readFileSync(join(state, 'applied', 'web-1.json'), 'utf8')).manifest.hash as string;
const rollouts = async () => JSON.parse((await runCli(['history', '--json', '--driver', 'local', '--state', state])).stdout).rollouts.length as number;

beforeAll(async () => {
  tmp = makeTempDir('skyrec-reconcile-');
  state = join(tmp.dir, 'state');
  bare = join(tmp.dir, 'srv', 'config.git');
  port = await freePort();
  await exec(['git', 'init', '-q', '--bare', '-b', 'main', bare]);
  work = await TestRepo.create(join(tmp.dir, 'work'), { 'fleet.yaml': FLEET, 'apps/api.yaml': api() });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(work.dir, 'src', 'api'), { recursive: true });
  await work.commit('api');
  await work.git('push', '-q', bare, 'main');
  server = await startGitHttpServer(join(tmp.dir, 'srv'), { token: TOKEN });
}, 30_000);

afterAll(async () => {
  await runCli(['down', '--driver', 'local', '--state', state]);
  await server?.close();
  tmp?.cleanup();
}, 60_000);

describe('skyrec reconcile --once over a real smart-HTTP remote, local driver', () => {
  it('deploys the head of the branch, then each new commit; a cycle with nothing new touches nothing', async () => {
    const first = await cycle();
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'applied', revision: await work.git('rev-parse', 'HEAD') });
    expect(await greeting()).toBe('one');
    const rev = await push('api: two', { 'apps/api.yaml': api({ greeting: 'two', instances: '2' }) });
    expect(JSON.parse((await cycle()).stdout)).toMatchObject({ outcome: 'applied', revision: rev });
    expect(await greeting()).toBe('two');
    expect(JSON.parse((await cycle()).stdout)).toMatchObject({ outcome: 'unchanged', revision: rev });
  }, 120_000);

  it('never applies invalid specs: the error names file, line and field, and the fleet keeps running the last good revision', async () => {
    const before = generation();
    const rev = await push('api: typo', { 'apps/api.yaml': api({ greeting: 'typo', instances: 'two' }) });
    const r = await cycle();
    expect(r.code).toBe(2);
    const run = JSON.parse(r.stdout);
    expect(run).toMatchObject({ outcome: 'invalid', revision: rev });
    expect(run.detail).toMatch(/^apps\/api\.yaml:6:16: processes\.web\.instances must be an integer/);
    expect(generation()).toBe(before);
    expect(await greeting()).toBe('two');
  }, 60_000);

  it('a revision whose rollout fails is rolled back and quarantined: later cycles do not retry it, a fix deploys', async () => {
    const bad = await push('api: broken health', { 'apps/api.yaml': api({ greeting: 'broken', instances: '2', health: '/nope' }) });
    const failed = await cycle();
    expect(failed.code).toBe(4);
    expect(JSON.parse(failed.stdout)).toMatchObject({ outcome: 'failed', revision: bad });
    expect(await greeting()).toBe('two');
    const count = await rollouts();
    const again = await cycle();
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'quarantined', revision: bad });
    expect(JSON.parse(again.stdout).detail).toMatch(/skyrec retry [0-9a-f]{12}$/);
    expect(await rollouts()).toBe(count);

    // skyrec retry lifts the quarantine: the next cycle tries it again (and it fails again).
    const retry = await runCli(['retry', '--driver', 'local', '--state', state]);
    expect(retry.stdout).toContain(`${bad.slice(0, 12)} is no longer quarantined`);
    expect((await cycle()).code).toBe(4);
    expect(await rollouts()).toBe(count + 1);

    const fix = await push('api: fixed', { 'apps/api.yaml': api({ greeting: 'fixed', instances: '2' }) });
    expect(JSON.parse((await cycle()).stdout)).toMatchObject({ outcome: 'applied', revision: fix });
    expect(await greeting()).toBe('fixed');
  }, 180_000);
});

describe('skyrec reconcile, running: the real binary, polling and a signed webhook', () => {
  it('a push is deployed by the next poll; with a long interval, a signed webhook deploys at once; SIGTERM exits 0', async () => {
    const secretFile = join(tmp.dir, 'webhook-secret');
    writeFileSync(secretFile, 'loop-secret-91c0');
    const listen = await freePort();
    const start = (interval: string) => {
      const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'skyrec.js'), 'reconcile', '--repo', `${server.url}/config.git`, '--interval', interval, '--driver', 'local', '--state', state, '--http-port', String(port), '--listen', `127.0.0.1:${listen}`, '--webhook-secret-file', secretFile], {
        env: { ...process.env, SKYREC_GIT_TOKEN: TOKEN, SKYREC_CACHE_DIR: join(tmp.dir, 'cache') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      return { child, stderr: () => stderr, exited: new Promise<number | null>((res) => child.on('exit', (code) => res(code))) };
    };
    const status = async () => JSON.parse(await httpGet(listen, '/api/status')) as { runs: { revision: string; outcome: string }[] };
    const until = async (rev: string, ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const top = await status().then((s) => s.runs[0], () => undefined);
        if (top?.revision === rev && top.outcome === 'applied') return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${rev} was not applied within ${ms} ms`);
    };
    /** This daemon's metrics count a finished cycle (they start at zero with each process). */
    const firstCycleDone = async () => {
      const end = Date.now() + 30_000;
      while (Date.now() < end) {
        const metrics = await httpGet(listen, '/metrics').catch(() => '');
        if (/^skyrec_reconcile_runs_total\{[^}]*\} [1-9]/m.test(metrics)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the first cycle did not finish within 30 s');
    };

    const polling = start('1s');
    const polled = await push('api: polled', { 'apps/api.yaml': api({ greeting: 'polled', instances: '2' }) });
    await until(polled, 30_000);
    expect(await greeting()).toBe('polled');
    polling.child.kill('SIGTERM');
    expect(await polling.exited, polling.stderr()).toBe(0);

    const hooked = start('1h');
    await firstCycleDone(); // it finds nothing new; with --interval 1h, only the webhook starts the next
    const rev = await push('api: hooked', { 'apps/api.yaml': api({ greeting: 'hooked', instances: '2' }) });
    const body = Buffer.from('{}');
    const answer = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: listen, path: '/hooks/generic', method: 'POST', headers: { 'x-hub-signature-256': signBody('loop-secret-91c0', body) }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer).toBe(202);
    await until(rev, 30_000);
    expect(await greeting()).toBe('hooked');
    hooked.child.kill('SIGTERM');
    expect(await hooked.exited, hooked.stderr()).toBe(0);
  }, 120_000);
});

describe('skyrec reconcile: bad input', () => {
  it('an unreadable --token-file is a usage error naming the option and the file, not a crash', async () => {
    const missing = join(tmp.dir, 'no-such-token');
    const r = await runCli(['reconcile', '--once', '--repo', `${server.url}/config.git`, '--token-file', missing, '--driver', 'local', '--state', state]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--token-file ${missing} cannot be read: ENOENT`);
    expect(r.stderr).not.toMatch(/bug|at .*\.js:\d+/);
  });
});

function httpGet(port: number, path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Resolves once `done()` holds (checked every 5 ms; the test's own timeout bounds it). */
async function whenTrue(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((res) => setTimeout(res, 5));
}

describe('Reconciler scheduling', () => {
  it('runs one job at a time; triggers during a cycle make exactly one more cycle; a drift check waits its turn', async () => {
    let running = 0;
    let most = 0;
    const ran: string[] = [];
    let release: () => void = () => undefined;
    const job = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      ran.push(name);
      if (ran.length === 1) await new Promise<void>((res) => (release = res));
      running--;
    };
    const r = new Reconciler({ cycle: job('cycle'), drift: job('drift') }, { cycle: 60_000, drift: 60_000 });
    r.start();
    for (let i = 0; i < 5; i++) r.trigger();
    r.trigger('drift');
    // start() ran a cycle at once and queued a drift check after it; the triggers add one cycle.
    expect(r.current?.job).toBe('cycle');
    expect(r.queued).toBe(true);
    release();
    await whenTrue(() => ran.length === 3 && running === 0);
    await r.stop();
    expect(ran).toEqual(['cycle', 'cycle', 'drift']);
    expect(r.queued).toBe(false);
    expect(most).toBe(1);
  });

  it('a job that throws is reported and the loop goes on', async () => {
    const errors: string[] = [];
    let cycles = 0;
    const r = new Reconciler({ cycle: async () => { if (++cycles === 1) throw new Error('boom'); } }, { cycle: 60_000 }, (job, err) => errors.push(`${job}: ${(err as Error).message}`));
    r.start();
    await whenTrue(() => errors.length === 1);
    r.trigger();
    await whenTrue(() => cycles === 2);
    await r.stop();
    expect(errors).toEqual(['cycle: boom']);
    expect(cycles).toBe(2);
  });
});
