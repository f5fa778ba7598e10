// `npm run bench`: wall time and peak RSS of skyrec's commands on a synthetic repo of 2,000
// apps on 200 nodes, next to a parse-only baseline measured in the same run; the rollout
// engine's overhead; and a rolling apply of an app with a database under load (bench-rolling.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { writeSyntheticRepo } from './synthetic-repo.js';
import { benchRolling } from './bench-rolling.js';
import { benchRollout } from './bench-rollout.js';
import { benchReconcileLoop } from './bench-reconcile.js';
import { benchWebhook } from './bench-webhook.js';
import { makePlanRepo } from './plan-repo.js';
import { benchDetect } from './bench-detect.js';
import { benchHookFlood } from './bench-hook-flood.js';
import { benchLogs, benchLogsSsh, benchPs } from './bench-operate.js';
import { benchSigned } from './bench-signed.js';
import { benchLiveStatus } from './bench-live-status.js';
import { benchNotify } from './bench-notify.js';
import { benchBackup } from './bench-backup.js';
import { benchBackupLatency } from './bench-backup-latency.js';
import { benchDataMove } from './bench-data-move.js';
import { benchNixosRestore } from './bench-nixos-restore.js';
import { benchNixosMove } from './bench-nixos-move.js';
import { benchRedisMove } from './bench-redis-move.js';
import { benchStartup } from './bench-startup.js';
import { QUICK, RUNS, SIZE, SIZE_LABEL } from './bench-size.js';

const root = packageRoot();
const hook = join(root, 'dist/test/bench/rss-hook.js');

interface Figure {
  name: string;
  ms: number;
  rssMb: number;
}

/** Runs a node script RUNS times; the median wall time and the largest peak RSS. */
async function measure(name: string, args: () => string[], env: Record<string, string> | (() => Record<string, string>) = {}): Promise<Figure> {
  const times: number[] = [];
  let rss = 0;
  for (let r = 0; r < RUNS; r++) {
    const runEnv = typeof env === 'function' ? env() : env;
    const started = performance.now();
    const { stderr } = await exec([process.execPath, '--import', hook, ...args()], { cwd: root, timeout: 120_000, env: runEnv });
    times.push(performance.now() - started);
    rss = Math.max(rss, Number(/SKYREC_BENCH_MAXRSS_KB=(\d+)/.exec(stderr)![1]) / 1024);
  }
  times.sort((a, b) => a - b);
  return { name, ms: times[Math.floor(times.length / 2)], rssMb: rss };
}

function report(title: string, figures: Figure[], baseline: Figure): void {
  console.log(`\n${title}`);
  console.log(`${'command'.padEnd(34)} ${'wall (median)'.padStart(14)} ${'× baseline'.padStart(11)} ${'peak RSS'.padStart(10)}`);
  for (const f of figures) {
    console.log(`${f.name.padEnd(34)} ${`${f.ms.toFixed(0)} ms`.padStart(14)} ${(f.ms / baseline.ms).toFixed(2).padStart(11)} ${`${f.rssMb.toFixed(0)} MB`.padStart(10)}`);
  }
}

async function benchRender(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-'));
  try {
    const repo = join(dir, 'repo');
    writeSyntheticRepo(repo, { apps: SIZE.apps, nodes: SIZE.nodes });
    let outs = 0;
    const skyrec = (...args: string[]) => () => ['bin/skyrec.js', ...args, '--repo', repo];
    const freshOut = () => join(dir, `out-${outs++}`);
    // Cold: every spec parsed (--no-cache). Warm: the parse cache holds every spec already, and
    // render's compile cache the repo validated, placed and rendered (README "Warm render and plan").
    const warm = { SKYREC_CACHE_DIR: join(dir, 'cache') };
    await exec([process.execPath, 'bin/skyrec.js', 'validate', '--repo', repo], { cwd: root, env: warm });
    await exec([process.execPath, 'bin/skyrec.js', 'render', '--repo', repo, '--out', join(dir, 'out-warmup')], { cwd: root, env: warm });
    const figures = [
      await measure('parse-only baseline (yaml)', () => [join(root, 'dist/test/bench/parse-baseline.js'), repo]),
      await measure('validate, cold', skyrec('validate', '--no-cache')),
      await measure('validate, warm cache', skyrec('validate'), warm),
      await measure('render to empty --out, cold', () => [...skyrec('render', '--no-cache')(), '--out', freshOut()]),
      await measure('render to empty --out, warm', () => [...skyrec('render')(), '--out', freshOut()], warm),
      await measure('render to unchanged --out, warm', () => [...skyrec('render')(), '--out', join(dir, 'out-0')], warm),
    ];
    report(`${SIZE_LABEL}, median of ${RUNS} runs (node ${process.version})`, figures, figures[0]);
    // Not a goal's figure: what creating the same files costs on this disk, to read the cold render by.
    const writes: { files: number; ms: number }[] = [];
    for (let r = 0; r < RUNS; r++) writes.push(JSON.parse((await exec([process.execPath, join(root, 'dist/test/bench/write-baseline.js'), join(dir, 'out-warmup'), freshOut()], { cwd: root })).stdout));
    const write = writes.map((w) => w.ms).sort((a, b) => a - b)[Math.floor(writes.length / 2)];
    console.log(`creating a render's ${writes[0].files} files on this disk, measured alone (writeFileSync): ${write.toFixed(0)} ms = ${(write / figures[0].ms).toFixed(2)}× baseline`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPlan(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-plan-'));
  try {
    const { repo, a, one, many, dirs } = await makePlanRepo(dir);
    const warm = { SKYREC_CACHE_DIR: join(dir, 'cache') };
    let emptyCaches = 0;
    const plan = (head: string, ...flags: string[]) => () => ['bin/skyrec.js', 'plan', '--repo', repo, '--base', a, '--head', head, '--format', 'json', ...flags];
    await exec([process.execPath, ...plan(many)()], { cwd: root, env: warm });
    const baseline = (d: string) => () => [join(root, 'dist/test/bench/parse-baseline.js'), dirs.a, d];
    const one1 = await measure('parse-only baseline, A + B', baseline(dirs.one));
    report(`plan, 1 app changed: ${SIZE_LABEL}, packed git repo, median of ${RUNS} runs`, [
      one1,
      await measure('plan, cold (--no-cache)', plan(one, '--no-cache')),
      await measure('plan, warm cache', plan(one), warm),
    ], one1);
    const many1 = await measure('parse-only baseline, A + B', baseline(dirs.many));
    report(`plan, ${SIZE.changed} apps changed: ${SIZE_LABEL}, packed git repo, median of ${RUNS} runs`, [
      many1,
      await measure('plan, cold (--no-cache)', plan(many, '--no-cache')),
      // The first plan on a machine (a CI runner without a kept cache): cold, and it fills the cache.
      await measure('plan, cold, fills an empty cache', plan(many), () => ({ SKYREC_CACHE_DIR: join(dir, `cache-empty-${emptyCaches++}`) })),
      await measure('plan, warm cache', plan(many), warm),
      await measure('plan --diff, warm cache', plan(many, '--diff'), warm),
    ], many1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// BENCH_ONLY=webhook,loop runs only those (names: startup, render, plan, rollout, rolling, webhook, loop, detect, flood, logs, logs-ssh, ps, signed, live, notify, backup, backup-latency, data-move, nixos-restore, nixos-move, redis-move).
const benches: Record<string, () => Promise<void>> = { startup: benchStartup, render: benchRender, plan: benchPlan, rollout: benchRollout, rolling: benchRolling, webhook: benchWebhook, loop: () => benchReconcileLoop(makePlanRepo), detect: benchDetect, flood: benchHookFlood, logs: benchLogs, 'logs-ssh': benchLogsSsh, ps: benchPs, signed: benchSigned, live: benchLiveStatus, notify: benchNotify, backup: benchBackup, 'backup-latency': benchBackupLatency, 'data-move': benchDataMove, 'nixos-restore': benchNixosRestore, 'nixos-move': benchNixosMove };
benches['redis-move'] = benchRedisMove;
const only = process.env.BENCH_ONLY?.split(',');
if (QUICK) console.log(`BENCH_QUICK=1: ${SIZE_LABEL}, one run each; these figures only prove the benches run`);
for (const [name, run] of Object.entries(benches)) if (!only || only.includes(name)) await run();
