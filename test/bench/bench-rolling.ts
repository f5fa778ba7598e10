// `npm run bench` (rolling part): a rolling apply of an env change to shop (web × 3, PostgreSQL,
// Redis) under continuous load, spread over two nodes and forced onto one (and with one instance), with the local driver
// and real processes (see rolling-scenario.ts). Prints requests sent and failed, latency during
// the rollout and how long each node's switch took. BENCH_COMPARE_REV=<git rev> also builds that
// revision of skyrec in a temporary worktree and runs the same applies with it, for comparison.
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { createScenario, destroyScenario, nodeSeconds, runSkyrec, shopYaml, underLoad } from '../helpers/rolling-scenario.js';
import { QUICK } from './bench-size.js';

export async function applyUnderLoad(onOneNode: boolean, bin?: string, instances = 3): Promise<string> {
  const s = await createScenario({ onOneNode, bin, instances });
  try {
    const first = await runSkyrec(s, ['apply', '--rev', 'HEAD']);
    // A figure from a scenario that never deployed means nothing: fail the bench (and CI) instead.
    if (first.code !== 0) throw new Error(`rolling bench: the first apply failed (exit ${first.code}):\n${first.stderr.trim().split('\n').slice(-20).join('\n')}`);
    const rev = await s.repo.commit('shop: USD', { 'apps/shop.yaml': shopYaml({ onOneNode, currency: 'USD', instances }) });
    const { result, load } = await underLoad(s, () => runSkyrec(s, ['apply', '--rev', rev]));
    const nodes = Object.entries(await nodeSeconds(s)).map(([n, sec]) => `${n} ${sec.toFixed(1)} s`).join(', ');
    // What a drain cost each instance: the wait until the ingress had nothing in flight to it (logged by drain-settle.ts).
    const waits = [...result.stderr.matchAll(/"ms":(\d+)[^\n]*"msg":"drained: no request in flight"/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
    const drains = waits.length === 0 ? 'drain wait: fixed 1000 ms' : `drain wait per instance: median ${waits[Math.floor(waits.length / 2)]} ms, max ${waits[waits.length - 1]} ms (${waits.length} drains)`;
    return (
      `${load.sent} requests, ${load.failed} failed (${((100 * load.failed) / Math.max(1, load.sent)).toFixed(1)} %); ` +
      `latency p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, max ${load.max.toFixed(0)} ms; ` +
      `apply ${(result.ms / 1000).toFixed(1)} s (exit ${result.code}); per node: ${nodes}; ${drains}` +
      (load.failed > 0 ? `\n    failures: ${load.failures.join(' | ')}` : '')
    );
  } finally {
    await destroyScenario(s);
  }
}

/** Builds skyrec at `rev` in a temporary worktree sharing this checkout's node_modules. */
async function buildRevision(rev: string): Promise<{ bin: string; cleanup: () => Promise<void> }> {
  const root = packageRoot();
  const dir = join(mkdtempSync(join(tmpdir(), 'skyrec-bench-rev-')), 'skyrec');
  await exec(['git', 'worktree', 'add', '--detach', dir, rev], { cwd: root });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  await exec(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: dir, timeout: 300_000 });
  return {
    bin: join(dir, 'bin', 'skyrec.js'),
    cleanup: async () => {
      await exec(['git', 'worktree', 'remove', '--force', dir], { cwd: root });
      rmSync(join(dir, '..'), { recursive: true, force: true });
    },
  };
}

export async function benchRolling(): Promise<void> {
  if (!existsSync('/usr/bin/redis-server') || process.getuid?.() !== 0) {
    console.log('\nrolling apply: skipped (needs root and test/setup.sh: PostgreSQL, Redis, Caddy, Nix)');
    return;
  }
  // Info-level logs carry each drain's wait; they go to the captured stderr only.
  process.env.SKYREC_LOG_LEVEL ??= 'info';
  console.log('\nrolling apply of an env change to shop (web x 3, postgres, redis) under load, local driver:');
  for (const onOneNode of QUICK ? [false] : [false, true]) console.log(`  ${onOneNode ? 'on one node' : 'spread    '}: ${await applyUnderLoad(onOneNode)}`);
  if (QUICK) return;
  // The documented limit: a single instance cannot be drained and restarts in place behind Caddy's retries.
  console.log(`  web x 1    : ${await applyUnderLoad(true, undefined, 1)}`);
  const rev = process.env.BENCH_COMPARE_REV;
  if (!rev) return;
  const base = await buildRevision(rev);
  try {
    console.log(`the same with skyrec at ${rev}:`);
    for (const onOneNode of [false, true]) console.log(`  ${onOneNode ? 'on one node' : 'spread    '}: ${await applyUnderLoad(onOneNode, base.bin)}`);
  } finally {
    await base.cleanup();
  }
}
