// How soon a signed webhook for a new commit starts the first node switch (the real binary, the
// local driver, a real smart-HTTP remote on 127.0.0.1), where that time goes, and what the idle
// reconciler holds in memory meanwhile (itself and the head worker it keeps started ahead).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { signBody } from '../../reconciler/daemon/webhook.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startGitHttpServer } from '../helpers/git-http-server.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort } from '../helpers/tools.js';
import { QUICK } from './bench-size.js';

/** The reconciler's log lines that mark the phases of a webhook's cycle, in order (reconciler/daemon/). */
const MARKS = ['cycle requested', 'head fetched', 'head worker takes the cycle', 'applying'] as const;
const PHASES = ['HTTP, HMAC check, trigger', 'record the cycle, fetch the head (2 smart-HTTP round trips)', 'hand the head to the worker (IPC)', 'worker: open the compile cache', 'worker: read, compile, plan the rollout, record its start', '(of which the fetch alone)'];

interface LogLine { time: number; msg: string; ms?: number }

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const lines = (r: RunningReconciler, from: number): LogLine[] =>
  r.stderr().slice(from).split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });

/** Waits (at most `ms`) until the reconciler has logged `msg` `count` times; those lines (fewer when it did not). */
async function logged(r: RunningReconciler, msg: string, count: number, ms: number): Promise<LogLine[]> {
  const end = Date.now() + ms;
  for (;;) {
    const hits = lines(r, 0).filter((l) => l.msg === msg);
    if (hits.length >= count || Date.now() > end) return hits;
    await new Promise((res) => setTimeout(res, 20));
  }
}

/**
 * Waits until the cycle that applied `head` has been recorded (its run is finished then), read from
 * the state store: asking the reconciler's /api/status 40 times a second would load the very
 * process whose latency is measured.
 */
async function waitApplied(state: string, head: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  const store = StateStore.open(state);
  try {
    while (store.reconciler.lastSuccess()?.revision !== head) {
      if (Date.now() > end) throw new Error(`${head.slice(0, 12)} was not applied within ${ms} ms`);
      await new Promise((res) => setTimeout(res, 25));
    }
  } finally {
    store.close();
  }
}

const rssMb = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024;

export async function benchWebhook(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-hook-'));
  const state = join(dir, 'state');
  const port = await freePort();
  const api = (greeting: string) => `name: api\npackage: { build: { stack: nodejs, path: src/api } }\nprocesses:\n  web: { command: node server.js, instances: 1, healthcheck: { path: /healthz, interval: 1s } }\nenv: { GREETING: ${JSON.stringify(greeting)} }\ndomains: [api.bench.example]\n`;
  const fleet = 'nodes:\n  - { name: web-1, host: root@10.9.3.1, address: 10.9.3.1, labels: { role: web }, ingress: true }\n';
  const bare = join(dir, 'srv', 'config.git');
  await exec(['git', 'init', '-q', '--bare', '-b', 'main', bare]);
  const work = await TestRepo.create(join(dir, 'work'), { 'fleet.yaml': fleet, 'apps/api.yaml': api('g0') });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(work.dir, 'src', 'api'), { recursive: true });
  await work.commit('api');
  await work.git('push', '-q', bare, 'main');
  const server = await startGitHttpServer(join(dir, 'srv'));
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'bench-secret');
  // debug: the phase marks and the spare worker's 'head worker ready'.
  const r = await startReconciler(['--repo', `${server.url}/config.git`, '--interval', '1h', '--drift-interval', '1h', '--driver', 'local', '--state', state, '--http-port', String(port), '--webhook-secret-file', secret], { SKYREC_LOG_LEVEL: 'debug' });
  const latencies: number[] = [];
  const phases: number[][] = PHASES.map(() => []);
  let idle = '';
  try {
    let head = await work.git('rev-parse', 'HEAD');
    await r.waitFor('the first deploy', (s) => s.applied?.revision === head && s.running === null);
    for (let i = 1; i <= (QUICK ? 1 : 5); i++) {
      await work.commit(`api: g${i}`, { 'apps/api.yaml': api(`g${i}`) });
      await work.git('push', '-q', bare, 'main');
      head = await work.git('rev-parse', 'HEAD');
      // An idle reconciler: the head worker for this cycle, forked when the last one ended, has
      // loaded (one spare per cycle so far, and the first; a skyrec that does not log it gets 10 s).
      await logged(r, 'head worker ready', i + 1, 10_000);
      if (i === 1) idle = idleRss(r);
      const from = r.stderr().length;
      const body = Buffer.from('{}');
      const sent = Date.now();
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: r.listen, path: '/hooks/generic', method: 'POST', headers: { 'x-hub-signature-256': signBody('bench-secret', body) }, agent: false }, (res) => resolve(void res.resume()));
        req.on('error', reject);
        req.end(body);
      });
      await waitApplied(state, head);
      const store = StateStore.open(state);
      const first = store.history(1)[0].steps.find((s) => s.kind === 'switch')!;
      store.close();
      const switched = Date.parse(first.startedAt);
      latencies.push(switched - sent);
      const logs = lines(r, from);
      const at = [sent, ...MARKS.map((m) => logs.find((l) => l.msg === m)?.time ?? NaN), switched];
      for (let p = 0; p < MARKS.length + 1; p++) phases[p].push(at[p + 1] - at[p]);
      phases[MARKS.length + 1].push(logs.find((l) => l.msg === 'head fetched')?.ms ?? NaN);
    }
    // How long each spare took to load, from its fork (the first one's start competes with the reconciler's own).
    const readyMs = (await logged(r, 'head worker ready', 0, 0)).slice(1).flatMap((l) => (l.ms === undefined ? [] : [l.ms]));
    const s = [...latencies].sort((p, q) => p - q);
    console.log('\nwebhook → first node switch starts: real binary, local driver, smart-HTTP remote on 127.0.0.1, 1 node, an idle reconciler');
    console.log(`  min ${s[0]} ms, median ${median(s)} ms, max ${s[s.length - 1]} ms (${s.length} runs)`);
    console.log('  where it goes (median ms; NaN: this skyrec does not log that mark):');
    PHASES.forEach((name, p) => console.log(`    ${String(median(phases[p])).padStart(5)}  ${name}`));
    console.log(`  the next cycle's head worker is ready ${readyMs.length ? `${median(readyMs)} ms` : '(not logged)'} after the previous cycle ended`);
    console.log(`  idle RSS: ${idle}`);
  } finally {
    r.child.kill('SIGTERM');
    await r.exited;
    await exec([process.execPath, join(packageRoot(), 'bin/skyrec.js'), 'down', '--driver', 'local', '--state', state]);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A process's own resident memory: its private pages (USS), without the pages of files it shares with others, as the node binary's. */
const ussMb = (p: number) => {
  const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(rollup)![1]);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
};

/**
 * The reconciler's RSS and its head worker's (started ahead and loaded), idle. Added up, RSS
 * counts twice the pages both map from the same files (the node binary, ~40 MB of each): what
 * the two hold of their own (private pages) is printed beside it.
 */
function idleRss(r: RunningReconciler): string {
  const pid = r.child.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const spare = children.filter((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('head-worker.js'));
  const total = rssMb(pid) + spare.reduce((sum, p) => sum + rssMb(p), 0);
  const own = ussMb(pid) + spare.reduce((sum, p) => sum + ussMb(p), 0);
  return `reconciler ${rssMb(pid).toFixed(0)} MB, head worker started ahead ${spare.map((p) => `${rssMb(p).toFixed(0)} MB`).join(', ') || 'none'}; RSS added up ${total.toFixed(0)} MB; private memory of the two ${own.toFixed(0)} MB`;
}
