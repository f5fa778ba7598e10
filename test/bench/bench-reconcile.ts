// The reconciler's figures: what a cycle that finds nothing new costs on the 2,000-app repo, a new
// head with one app changed, and the reconciler's RSS over 100 cycles there. (Webhook latency:
// bench-webhook.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
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
    const r = JSON.parse(stdout) as { noop: number[]; applying: number[]; rss: Record<string, number>; idle: Record<string, number>; rollouts: number; firstRollouts: number };
    console.log(`\nreconciler cycles as the daemon runs them (a new head compiled in a child process): ${SIZE_LABEL}, stand-in driver (switch 0 ms), ${CYCLES} cycles`);
    console.log(`  nothing new (after the first run): ${stats(r.noop)}; rollouts recorded: ${r.rollouts}: the first deploy's ${r.firstRollouts} (${r.firstRollouts - 1} before its own: the intermediate generations of the nodes that use each other's new data, in one rollout), then one per applying cycle (no node touched otherwise)`);
    console.log(`  new head, 1 app changed (compile, apply to its nodes, plan recorded): ${stats(r.applying.slice(1))}`);
    console.log(`  first cycle (deploys all ${SIZE.nodes} nodes): ${r.applying[0].toFixed(0)} ms`);
    console.log(`  RSS of the reconciler by cycle: ${Object.entries(r.rss).map(([c, mb]) => `${c}: ${mb} MB`).join(', ')}`);
    console.log(`  RSS after idling: ${Object.entries(r.idle).map(([s, mb]) => `${s} s: ${mb} MB`).join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
