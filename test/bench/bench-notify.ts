// `npm run bench` (BENCH_ONLY=notify): from the end of a rollout (its finishedAt in the state
// store) to the commit status `success` arriving at a local stand-in of GitHub's statuses API:
// the real binary, the local driver, a local config repo. What it includes: the plan recorded
// after the rollout, the cycle's child process exiting, the queue, and one HTTP request.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler } from '../helpers/reconciler-daemon.js';
import { freePort } from '../helpers/tools.js';
import { GITHUB_TOKEN, startReceiverStandin } from '../notify/receiver-standin.js';
import { QUICK } from './bench-size.js';

const DEPLOYS = QUICK ? 1 : 5;

export async function benchNotify(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-notify-'));
  const rx = await startReceiverStandin();
  const state = join(dir, 'state');
  const api = (greeting: string) => `name: api\npackage: { build: { stack: nodejs, path: src/api } }\nprocesses:\n  web: { command: node server.js, instances: 1, healthcheck: { path: /healthz, interval: 1s } }\nenv: { GREETING: ${JSON.stringify(greeting)} }\ndomains: [api.bench-notify.example]\n`;
  const fleet = `nodes:\n  - { name: web-1, host: root@10.9.8.1, address: 10.9.8.1, ingress: true }\nnotifications:\n  - { name: gh, github: { apiUrl: "${rx.url}/gh", repo: acme/config, tokenSecret: GH_TOKEN } }\n`;
  const repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': fleet, 'apps/api.yaml': api('g0') });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(repo.dir, 'src', 'api'), { recursive: true });
  let rev = await repo.commit('api');
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(join(dir, 'secrets', 'GH_TOKEN'), `${GITHUB_TOKEN}\n`);
  const port = await freePort();
  const r = await startReconciler(['--repo', repo.dir, '--driver', 'local', '--state', state, '--http-port', String(port), '--interval', '200ms', '--notify-secrets-dir', join(dir, 'secrets')]);
  const lags: number[] = [];
  try {
    for (let i = 0; i <= DEPLOYS; i++) {
      if (i > 0) rev = await repo.commit(`api g${i}`, { 'apps/api.yaml': api(`g${i}`) });
      const sha = rev;
      const statusPath = `/gh/repos/acme/config/statuses/${sha}`;
      const arrived = await rx.waitFor(`success on ${sha}`, (q) => q.some((x) => x.path === statusPath && x.body.includes('"success"')), 120_000);
      const at = arrived.find((x) => x.path === statusPath && x.body.includes('"success"'))!.at;
      const store = StateStore.open(state);
      const finished = store.history(20).find((x) => x.revision === sha)?.finishedAt;
      store.close();
      // The first deploy starts the node's processes and Caddy: reported apart.
      if (finished && i > 0) lags.push(at - Date.parse(finished));
      else if (finished) console.log(`\nnotify: first deploy, end of rollout → commit status success: ${at - Date.parse(finished)} ms`);
    }
  } finally {
    r.child.kill('SIGTERM');
    await r.exited;
    await exec([process.execPath, join(packageRoot(), 'bin', 'skyrec.js'), 'down', '--driver', 'local', '--state', state]).catch(() => {});
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const s = [...lags].sort((a, b) => a - b);
  console.log(`notify: end of rollout → commit status success at a local GitHub stand-in (1 node, local driver, ${s.length} deploys): min ${s[0]} ms, median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms`);
}
