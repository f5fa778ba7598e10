// `skyrec reconcile --watch`: the real binary watching a real git working tree (chokidar on the
// real file system), printing a plan after every burst of saves; with --apply and the local
// driver, each save is deployed and answers through a real Caddy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { freePort, getJson, makeTempDir } from '../helpers/tools.js';

const BIN = join(packageRoot(), 'bin', 'skyrec.js');
const FLEET = `settings:
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 6s }
nodes:
  - { name: web-1, host: root@10.9.2.1, address: 10.9.2.1, labels: { role: web }, ingress: true }
`;
const api = (o: { instances?: string; greeting?: string } = {}) => `name: api
package: { build: { stack: nodejs, path: src/api } }
processes:
  web:
    command: node server.js
    instances: ${o.instances ?? '1'}
    healthcheck: { path: /healthz, interval: 1s }
env: { GREETING: ${JSON.stringify(o.greeting ?? 'one')} }
domains: [api.watch.example]
`;

type Event = { event: string; [k: string]: any };

/** The watcher as a user runs it, its stdout read as JSON lines from a pipe. */
class Watcher {
  readonly events: Event[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(args: string[], cacheDir: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, 'reconcile', '--watch', '--json', ...args], { env: { ...process.env, SKYREC_CACHE_DIR: cacheDir, ...env } });
    let buf = '';
    this.child.stdout.on('data', (chunk) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        this.events.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    this.child.stderr.on('data', (chunk) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first event from index `from` on that matches; fails after `ms` with what was printed. */
  async next(from: number, match: (e: Event) => boolean, ms = 20_000): Promise<Event> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (!this.alive) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no matching event after #${from} in ${ms} ms; events: ${JSON.stringify(this.events.map((e) => e.event))}\nstderr: ${this.stderr}`);
  }

  stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

const units = (e: Event) => (e.nodes as { units: { unit: string; action: string; reasons: string[] }[] }[]).flatMap((n) => n.units);
const isPlan = (e: Event) => e.event === 'plan';

let tmp: ReturnType<typeof makeTempDir>;
const watchers: Watcher[] = [];

function watchRepo(...args: string[]): Watcher {
  return watchRepoWith({}, ...args);
}

function watchRepoWith(env: Record<string, string>, ...args: string[]): Watcher {
  const w = new Watcher(args, join(tmp.dir, 'cache'), env);
  watchers.push(w);
  return w;
}

async function makeRepo(name: string): Promise<TestRepo> {
  const repo = await TestRepo.create(join(tmp.dir, name), { 'fleet.yaml': FLEET, 'apps/api.yaml': api() });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(repo.dir, 'src', 'api'), { recursive: true });
  await repo.commit('api');
  return repo;
}

beforeAll(() => {
  tmp = makeTempDir('skyrec-watch-');
});

afterAll(async () => {
  for (const w of watchers) if (w.alive) await w.stop();
  await runCli(['down', '--state', join(tmp.dir, 'state-apply')]);
  tmp?.cleanup();
}, 60_000);

describe('skyrec reconcile --watch (plans only)', () => {
  it('plans at start and after each save; invalid specs print file:line:col and the watch goes on; a burst of saves is one plan; SIGTERM exits 0', async () => {
    const repo = await makeRepo('plan');
    // Debug logs name each save the watcher acts on ("watch: changed"): what tells a README it ignored.
    const w = watchRepoWith({ SKYREC_LOG_LEVEL: 'debug' }, '--repo', repo.dir, '--state', join(tmp.dir, 'state-plan'));

    // Nothing was applied from this state directory: the base is HEAD, which the tree equals.
    const first = await w.next(0, isPlan);
    expect(first).toMatchObject({ version: 1, base: { label: 'HEAD', revision: await repo.git('rev-parse', 'HEAD') }, head: { revision: null, label: 'working tree' }, nodes: [], outOfDate: ['web-1'] });
    expect(Date.parse(first.at)).not.toBeNaN();

    let from = w.events.length;
    repo.write({ 'apps/api.yaml': api({ instances: '2' }) });
    const scaled = await w.next(from, isPlan);
    expect(units(scaled)).toEqual([{ unit: 'api-web-2', app: 'api', kind: 'instance', action: 'start', reasons: ['scaled to 2'] }]);

    from = w.events.length;
    repo.write({ 'apps/api.yaml': api({ instances: 'two' }) });
    const invalid = await w.next(from, (e) => e.event === 'invalid');
    expect(invalid.problems).toEqual([{ file: 'apps/api.yaml', line: 6, col: 16, message: "processes.web.instances must be an integer, got string 'two'" }]);
    expect(w.alive).toBe(true);

    from = w.events.length;
    repo.write({ 'apps/api.yaml': api({ instances: '3' }) });
    const fixed = await w.next(from, isPlan);
    expect(units(fixed).map((u) => `${u.action} ${u.unit}`)).toEqual(['start api-web-2', 'start api-web-3']);

    // Five saves in a row make one plan, of the last one. A save after it (a sentinel) makes
    // the next: a second plan of the burst would be printed between the two.
    from = w.events.length;
    for (const n of ['4', '5', '6', '7', '8']) repo.write({ 'apps/api.yaml': api({ instances: n }) });
    await w.next(from, (e) => isPlan(e) && units(e).some((u) => u.unit === 'api-web-8'));
    repo.write({ 'apps/api.yaml': api({ instances: '1', greeting: 'sentinel' }) });
    await w.next(from, (e) => isPlan(e) && units(e).some((u) => u.reasons.includes('env GREETING changed')));
    const plans = w.events.slice(from).filter(isPlan);
    expect(plans.map((p) => units(p).length)).toEqual([7, 1]);

    // A file outside what is rendered (not fleet.yaml, apps/ or a build.path folder) plans nothing:
    // the watcher passes over the README's save (inotify reports it first) and acts on the spec's.
    from = w.events.length;
    const logFrom = w.stderr.length;
    repo.write({ 'README.md': '# notes\n' });
    repo.write({ 'apps/api.yaml': api({ instances: '1', greeting: 'after readme' }) });
    await w.next(from, (e) => isPlan(e) && units(e).some((u) => u.reasons.includes('env GREETING changed')));
    expect(w.events.slice(from).filter(isPlan)).toHaveLength(1);
    const acted = [...w.stderr.slice(logFrom).matchAll(/"file":"([^"]+)"[^\n]*watch: changed/g)].map((m) => m[1]);
    expect(acted).toContain('apps/api.yaml');
    expect(acted).not.toContain('README.md');

    expect(await w.stop(), w.stderr).toBe(0);
    expect(w.stderr).not.toMatch(/internal error|bug/);
  }, 120_000);

  it('prints plans as text on a pipe without --json, and problems as file:line:col: message', async () => {
    const repo = await makeRepo('text');
    const child = spawn(process.execPath, [BIN, 'reconcile', '--watch', '--repo', repo.dir, '--state', join(tmp.dir, 'state-text')], { env: { ...process.env, SKYREC_CACHE_DIR: join(tmp.dir, 'cache') } });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const until = async (text: string) => {
      const end = Date.now() + 20_000;
      while (!stdout.includes(text) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(stdout).toContain(text);
    };
    try {
      await until('No changes. 1 node unchanged.');
      expect(stdout).toMatch(/^Plan: HEAD \([0-9a-f]{7}\) → working tree\n/);
      expect(stdout).not.toContain('\x1b['); // a pipe: no screen clearing, no colour
      repo.write({ 'apps/api.yaml': api({ instances: 'two' }) });
      await until("apps/api.yaml:6:16: processes.web.instances must be an integer, got string 'two'\n1 problem in the working tree; nothing is planned until they are fixed. Still watching.");
      repo.write({ 'apps/api.yaml': api({ greeting: 'fixed' }) });
      await until('~ restart api-web-1 (env GREETING changed)');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});

describe('skyrec reconcile --watch: bad usage', () => {
  it('refuses a URL repo, --once and the daemon options, and --apply without --watch, with a clear message', async () => {
    const state = ['--state', join(tmp.dir, 'state-usage')];
    const url = await runCli(['reconcile', '--watch', '--repo', 'https://git.example/config.git', ...state]);
    expect([url.code, url.stderr]).toEqual([2, expect.stringContaining('--watch needs --repo to be a local working tree, not a URL')]);
    const once = await runCli(['reconcile', '--watch', '--once', '--listen', '127.0.0.1:1', '--repo', tmp.dir, ...state]);
    expect([once.code, once.stderr]).toEqual([2, expect.stringContaining('--once, --listen cannot be used with --watch')]);
    const apply = await runCli(['reconcile', '--apply', '--repo', tmp.dir, ...state]);
    expect([apply.code, apply.stderr]).toEqual([2, expect.stringContaining('--apply goes with --watch')]);
    const missing = await runCli(['reconcile', '--watch', '--repo', join(tmp.dir, 'nowhere'), ...state]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('is not a folder')]);
  });
});

describe('skyrec reconcile --watch --apply --driver local', () => {
  it('deploys the working tree, then each save; the next plan is against what the nodes run, not HEAD', async () => {
    const repo = await makeRepo('apply');
    const port = await freePort();
    const greeting = async () => (await getJson(port, 'api.watch.example')).greeting as string;
    const w = watchRepo('--apply', '--repo', repo.dir, '--driver', 'local', '--state', join(tmp.dir, 'state-apply'), '--http-port', String(port));

    // Nothing runs yet: the first plan (the tree is HEAD) is followed by an apply of it.
    const first = await w.next(0, isPlan);
    expect(first).toMatchObject({ nodes: [], outOfDate: ['web-1'] });
    expect(await w.next(0, (e) => e.event === 'apply', 60_000)).toMatchObject({ outcome: 'succeeded', nodes: [{ node: 'web-1', result: 'switched' }] });
    expect(await greeting()).toBe('one');

    let from = w.events.length;
    repo.write({ 'apps/api.yaml': api({ greeting: 'saved' }) });
    const plan = await w.next(from, isPlan);
    expect(plan.base.label).toMatch(/^working tree of \d\d:\d\d:\d\d \(applied\)$/);
    expect(units(plan)).toEqual([{ unit: 'api-web-1', app: 'api', kind: 'instance', action: 'restart', reasons: ['env GREETING changed'] }]);
    expect(await w.next(from, (e) => e.event === 'apply', 60_000)).toMatchObject({ outcome: 'succeeded' });
    expect(await greeting()).toBe('saved');

    // HEAD still says 'one'; the nodes say 'saved': scaling up shows only the new instance.
    from = w.events.length;
    repo.write({ 'apps/api.yaml': api({ greeting: 'saved', instances: '2' }) });
    expect(units(await w.next(from, isPlan)).map((u) => `${u.action} ${u.unit}`)).toEqual(['start api-web-2']);
    expect(await w.next(from, (e) => e.event === 'apply', 60_000)).toMatchObject({ outcome: 'succeeded' });
    expect(await greeting()).toBe('saved');

    expect(await w.stop(), w.stderr).toBe(0);
  }, 180_000);
});
