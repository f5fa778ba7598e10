// The reconciler's figures: how soon a signed webhook for a new commit starts the first node
// switch (the real binary, the local driver, a real smart-HTTP remote); what a cycle that finds
// nothing new costs on the 2,000-app repo; and the reconciler's RSS over 100 cycles there.
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
import { startReconciler } from '../helpers/reconciler-daemon.js';
import { freePort } from '../helpers/tools.js';
import { QUICK, SIZE, SIZE_LABEL } from './bench-size.js';

/** Two moves of main (every 10th cycle) in the quick mode. */
const CYCLES = QUICK ? 20 : 100;

const stats = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return `min ${s[0].toFixed(1)} ms, median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms (${s.length} runs)`;
};

/** The synthetic repo as a git repo whose main can move between two commits (1 app differs). */
export async function benchReconcileLoop(makeRepo: (dir: string) => Promise<{ repo: string; a: string; one: string }>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-loop-'));
  try {
    const { repo, a, one } = await makeRepo(dir);
    await exec(['git', 'update-ref', 'refs/heads/main', a], { cwd: repo });
    const { stdout } = await exec([process.execPath, join(packageRoot(), 'dist/test/bench/reconcile-loop.js'), repo, join(dir, 'state'), a, one, String(CYCLES)], { timeout: 30 * 60_000, env: { BENCH_IDLE_MS: QUICK ? '0' : '10000' } });
    const r = JSON.parse(stdout) as { noop: number[]; applying: number[]; rss: Record<string, number>; idle: Record<string, number>; rollouts: number };
    console.log(`\nreconciler cycles as the daemon runs them (a new head compiled in a child process): ${SIZE_LABEL}, stand-in driver (switch 0 ms), ${CYCLES} cycles`);
    console.log(`  nothing new (after the first run): ${stats(r.noop)}; rollouts recorded: ${r.rollouts}, one per applying cycle (no node touched otherwise)`);
    console.log(`  new head, 1 app changed (compile, apply to its nodes, plan recorded): ${stats(r.applying.slice(1))}`);
    console.log(`  first cycle (deploys all ${SIZE.nodes} nodes): ${r.applying[0].toFixed(0)} ms`);
    console.log(`  RSS of the reconciler by cycle: ${Object.entries(r.rss).map(([c, mb]) => `${c}: ${mb} MB`).join(', ')}`);
    console.log(`  RSS after idling: ${Object.entries(r.idle).map(([s, mb]) => `${s} s: ${mb} MB`).join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seconds from a signed webhook to the first switch step of the rollout it starts, 5 times. */
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
  const r = await startReconciler(['--repo', `${server.url}/config.git`, '--interval', '1h', '--drift-interval', '1h', '--driver', 'local', '--state', state, '--http-port', String(port), '--webhook-secret-file', secret]);
  const latencies: number[] = [];
  try {
    let head = await work.git('rev-parse', 'HEAD');
    await r.waitFor('the first deploy', (s) => s.applied?.revision === head && s.running === null);
    for (let i = 1; i <= (QUICK ? 1 : 5); i++) {
      await work.commit(`api: g${i}`, { 'apps/api.yaml': api(`g${i}`) });
      await work.git('push', '-q', bare, 'main');
      head = await work.git('rev-parse', 'HEAD');
      const body = Buffer.from('{}');
      const sent = Date.now();
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: r.listen, path: '/hooks/generic', method: 'POST', headers: { 'x-hub-signature-256': signBody('bench-secret', body) }, agent: false }, (res) => resolve(void res.resume()));
        req.on('error', reject);
        req.end(body);
      });
      await r.waitFor(`g${i} applied`, (s) => s.applied?.revision === head && s.running === null);
      const store = StateStore.open(state);
      const rollout = store.history(1)[0];
      store.close();
      const first = rollout.steps.find((s) => s.kind === 'switch')!;
      latencies.push(Date.parse(first.startedAt) - sent);
    }
    console.log('\nwebhook → first node switch starts: real binary, local driver, smart-HTTP remote on 127.0.0.1, 1 node');
    console.log(`  ${stats(latencies)}`);
    // Idle, the reconciler keeps one head worker started ahead (isolate.ts): its memory counts too.
    const pid = r.child.pid!;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const spare = children.filter((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('head-worker.js'));
    const rssMb = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024;
    console.log(`  idle RSS: reconciler ${rssMb(pid).toFixed(0)} MB, head worker started ahead ${spare.map((p) => `${rssMb(p).toFixed(0)} MB`).join(', ') || 'none'}`);
  } finally {
    r.child.kill('SIGTERM');
    await r.exited;
    await exec([process.execPath, join(packageRoot(), 'bin/skyrec.js'), 'down', '--driver', 'local', '--state', state]);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
