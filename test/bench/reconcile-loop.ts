// Child process of `npm run bench`: the reconciler's cycle as the daemon runs it (each new head
// compiled in a child process of its own, isolate.ts) on the 2,000-app repo, with the stand-in
// driver (the local driver cannot run 2,000 apps on one machine). Cycle 1
// deploys; every tenth cycle the followed branch moves to a new commit that changes one app (a
// head no cycle has seen, as a merge is), so a new head is applied and its plan recorded; the
// others find nothing new. As the daemon does, a head worker is started ahead (isolate.ts).
// BENCH_FLIP=1: the branch moves between the two given commits instead (the figure before 0.2).
// Prints one JSON line: per-cycle times and the process's RSS at checkpoints.
import http from 'node:http';
import { exec } from '../../common/exec.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { newMemory, reconcileOnce } from '../../reconciler/daemon/reconcile.js';
import { spareHeadWorkerReady, startSpareHeadWorker, stopSpareHeadWorker } from '../../reconciler/daemon/isolate.js';
import { appName, appYaml } from './synthetic-repo.js';
import pino from 'pino';
import type { Logger } from '../../common/log.js';
import { standinDriver } from './standin-driver.js';

const [repo, stateDir, a, b, cyclesArg] = process.argv.slice(2);
const cycles = Number(cyclesArg ?? 100);
const quiet: Logger = pino({ level: 'silent' });
const silent = { update() {}, done() {} };
// Every health check (instances and domains through the ingress) answers 200 here.
const ok = http.createServer((_req, res) => res.end('ok\n'));
await new Promise<void>((resolve) => ok.listen(0, '127.0.0.1', resolve));
const healthBase = `http://127.0.0.1:${(ok.address() as { port: number }).port}`;
// BENCH_ISOLATE=0: compile in this process (no forked child), as `--once` does, to compare.
const isolate = process.env.BENCH_ISOLATE !== '0';
const opts = {
  repo, branch: 'main', driver: 'local' as const, stateDir, secretsDir: null, httpPort: 0, log: quiet, progress: () => silent, isolate,
  ...(isolate ? { driverModule: { url: new URL('./standin-driver.js', import.meta.url).href, name: 'standinDriver', args: [0, healthBase] } } : { driverImpl: standinDriver(0, healthBase) }),
};
// Start from A whatever an earlier run left.
await exec(['git', 'update-ref', 'refs/heads/main', a], { cwd: repo });
if (isolate) startSpareHeadWorker();

/** A new commit on main: the one before with app 0's env at variant `k`, made with git's plumbing (no checkout). */
async function commitChange(k: number): Promise<string> {
  const git = async (args: string[], input?: string) => (await exec(['git', ...args], { cwd: repo, input, env: { GIT_INDEX_FILE: `${stateDir}.bench-index`, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@skyrec.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@skyrec.invalid' } })).stdout.trim();
  const parent = await git(['rev-parse', 'refs/heads/main']);
  const blob = await git(['hash-object', '-w', '--stdin'], appYaml(0, k));
  await git(['read-tree', parent]);
  await git(['update-index', '--cacheinfo', `100644,${blob},apps/${appName(0)}.yaml`]);
  const commit = await git(['commit-tree', await git(['write-tree']), '-p', parent, '-m', `${appName(0)}: variant ${k}`]);
  await git(['update-ref', 'refs/heads/main', commit]);
  return commit;
}
const flip = process.env.BENCH_FLIP === '1';
const memory = newMemory();
const noop: number[] = [];
const applying: number[] = [];
const rss: Record<number, number> = {};
const mb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);
const heap: Record<number, number> = {};
const gc = (globalThis as { gc?: () => void }).gc;
const countRollouts = () => {
  const store = StateStore.open(stateDir);
  try {
    return store.history(1000).length;
  } finally {
    store.close();
  }
};
let firstRollouts = 0;
for (let i = 1; i <= cycles; i++) {
  const moves = i > 1 && i % 10 === 0;
  // The cycles here run back to back; the daemon's are --interval apart (30 s by default), time in
  // which the next head worker has loaded what a compile needs. A new head comes after that, as it would.
  if (moves && isolate) await spareHeadWorkerReady();
  if (moves && flip) await exec(['git', 'update-ref', 'refs/heads/main', i % 20 === 0 ? a : b], { cwd: repo });
  else if (moves) await commitChange(i);
  const started = performance.now();
  const run = await reconcileOnce(opts, memory);
  const ms = performance.now() - started;
  if (run.outcome !== (i === 1 || moves ? 'applied' : 'unchanged')) throw new Error(`cycle ${i}: ${run.outcome} ${run.detail}`);
  (i === 1 || moves ? applying : noop).push(ms);
  // The first deploy's rollouts: its own, and an intermediate switch of each node that uses
  // another's new data while that one uses its (apply.ts, rollout-order.ts dataCycles).
  if (i === 1) firstRollouts = countRollouts();
  if ([1, 10, 25, 50, 75, 100].includes(i)) {
    rss[i] = mb();
    if (gc) {
      gc();
      heap[i] = Math.round(process.memoryUsage().heapUsed / 1024 / 1024);
    }
  }
}
// A reconciler between cycles is idle (30 s by default): V8 returns memory to the system then.
const idleMs = Number(process.env.BENCH_IDLE_MS ?? 15_000);
const idle: Record<number, number> = {};
for (let t = 5000; t <= idleMs; t += 5000) {
  await new Promise((r) => setTimeout(r, 5000));
  idle[t / 1000] = mb();
}
// No cycle that found nothing new touched a node: after the first deploy, one rollout per applying cycle.
const rollouts = countRollouts();
if (rollouts - firstRollouts !== applying.length - 1) throw new Error(`${rollouts - firstRollouts} rollouts recorded after the first deploy for ${applying.length - 1} applying cycles`);
console.log(JSON.stringify({ noop, applying, rss, heap, idle, rollouts, firstRollouts }));
await stopSpareHeadWorker();
ok.close();
