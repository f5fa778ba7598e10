// What starting `skyrec` costs each command (BENCH_ONLY=startup): the CPU time (user + system)
// of whole processes that do little besides starting, next to a bare `node` in the same run.
// The test suite and CI spawn skyrec hundreds of times, and an operator waits for each `--help`.
// CPU time, not wall time: it is what the machine pays, and it varies less on a loaded machine.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { QUICK } from './bench-size.js';

const RUNS = QUICK ? 1 : Number(process.env.BENCH_STARTUP_RUNS ?? 11);

/** The median CPU milliseconds and wall milliseconds of `node --import <hook> ...args`. */
async function cpuOf(args: string[], env: Record<string, string>): Promise<{ cpu: number; wall: number }> {
  const root = packageRoot();
  const hook = join(root, 'dist/test/bench/rss-hook.js');
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const started = performance.now();
    const result = await exec([process.execPath, '--import', hook, ...args], { cwd: root, timeout: 60_000, env }).catch((err: { stderr?: string }) => err);
    // The first run warms the file cache and skyrec's own caches; it is not counted.
    if (r === 0) continue;
    wall.push(performance.now() - started);
    cpu.push(Number(/SKYREC_BENCH_CPU_US=(\d+)/.exec(String(result.stderr))![1]) / 1000);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { cpu: median(cpu), wall: median(wall) };
}

export async function benchStartup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-startup-'));
  try {
    const env = { SKYREC_CACHE_DIR: join(dir, 'cache'), SKYREC_STATE_DIR: join(dir, 'state') };
    mkdirSync(env.SKYREC_STATE_DIR);
    const skyrec = (...args: string[]) => ['bin/skyrec.js', ...args];
    const rows: [string, string[]][] = [
      ['node (nothing loaded)', ['-e', '0']],
      ['skyrec --help', skyrec('--help')],
      ['skyrec status --help', skyrec('status', '--help')],
      ['skyrec validate apps.example, warm', skyrec('validate', '--repo', 'apps.example')],
      ['skyrec render apps.example, warm', skyrec('render', '--repo', 'apps.example', '--out', join(dir, 'out'))],
      ['skyrec status, nothing applied', skyrec('status', '--driver', 'local')],
    ];
    const figures = [];
    for (const [name, args] of rows) figures.push({ name, ...(await cpuOf(args, env)) });
    console.log(`\nskyrec start-up: CPU time of the whole process (user + system), median of ${RUNS} runs after one warm-up (node ${process.version})`);
    console.log(`${'command'.padEnd(38)} ${'CPU'.padStart(8)} ${'× node'.padStart(7)} ${'wall'.padStart(8)}`);
    for (const f of figures) console.log(`${f.name.padEnd(38)} ${`${f.cpu.toFixed(0)} ms`.padStart(8)} ${(f.cpu / figures[0].cpu).toFixed(2).padStart(7)} ${`${f.wall.toFixed(0)} ms`.padStart(8)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
