// `npm run bench` (BENCH_ONLY=logs,ps): the day-2 commands through the real skyrec binary and the
// local driver, on a state directory written here as an apply leaves it (applied/<node>.json, log
// files, pid files) so that the figures are skyrec's reading and merging, not app start-up.
// logs: 3 nodes × 2 instances × 20,000 stamped lines; time to the first line on stdout and to
// the last, and lines per second through -f. ps: 200 nodes × 5 instances, each pid file naming a
// live process.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { procStat } from '../../common/proc.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { appliedNode, writeApplied } from '../helpers/applied-fixture.js';

const bin = join(packageRoot(), 'bin', 'skyrec.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

/** Spawns the binary; resolves with the ms to the first stdout byte, to exit, and the line count. */
function timeCommand(args: string[]): Promise<{ firstMs: number; totalMs: number; lines: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let first = 0;
    let lines = 0;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      if (first === 0) first = performance.now() - started;
      for (const b of c) if (b === 0x0a) lines++;
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => (code === 0 ? resolve({ firstMs: first, totalMs: performance.now() - started, lines }) : reject(new Error(`skyrec ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchLogs(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-logs-'));
  try {
    const state = join(dir, 'state');
    const nodes = ['n1', 'n2', 'n3'].map((n) => appliedNode(n, 2));
    writeApplied(state, nodes);
    const PER_FILE = 20_000;
    const t0 = Date.now() - PER_FILE * 10;
    for (const n of nodes) {
      mkdirSync(join(state, 'local', n.node.name, 'logs'), { recursive: true });
      for (const i of n.run.instances) {
        const lines = Array.from({ length: PER_FILE }, (_, k) => `${new Date(t0 + k * 10 + i.index).toISOString()} GET /items/${k} 200 in 3 ms (request id ${k.toString(16)})\n`);
        writeFileSync(join(state, 'local', n.node.name, 'logs', `${i.unit}.log`), lines.join(''));
      }
    }
    const base = ['logs', 'bench', '--driver', 'local', '--state', state];
    const last200 = [];
    const all = [];
    for (let r = 0; r < RUNS; r++) last200.push(await timeCommand(base));
    for (let r = 0; r < RUNS; r++) all.push(await timeCommand([...base, '--since', '1d']));
    console.log(`\nskyrec logs, local driver: 3 nodes x 2 instances x ${PER_FILE.toLocaleString('en')} lines, median of ${RUNS} runs (node ${process.version})`);
    console.log(`  last 200 lines (default):  first line ${median(last200.map((x) => x.firstMs)).toFixed(0)} ms, done ${median(last200.map((x) => x.totalMs)).toFixed(0)} ms`);
    console.log(`  all ${all[0].lines.toLocaleString('en')} lines (--since 1d): first line ${median(all.map((x) => x.firstMs)).toFixed(0)} ms, done ${median(all.map((x) => x.totalMs)).toFixed(0)} ms`);
    console.log(`  -f: ${await followRate(state, nodes)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lines per second through `logs -f`: from the first appended line to the last one shown. */
async function followRate(state: string, nodes: AppliedNode[]): Promise<string> {
  const TOTAL = 60_000;
  const child = spawn(process.execPath, [bin, 'logs', 'bench', '-f', '-n', '0', '--driver', 'local', '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = 0;
  let text = '';
  const ready = new Promise<void>((resolve) => {
    // -n 0 prints nothing before following: give it the moment it needs to start watching, by
    // appending a marker until it shows.
    const file = join(state, 'local', 'n1', 'logs', 'bench-web-1.log');
    const poke = setInterval(() => appendFileSync(file, `${new Date().toISOString()} marker\n`), 50);
    child.stdout.on('data', function first(c) {
      text += c;
      if (text.includes('marker')) {
        clearInterval(poke);
        child.stdout.off('data', first);
        resolve();
      }
    });
  });
  await ready;
  const done = new Promise<number>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      for (const b of c) if (b === 0x0a) seen++;
      if (seen >= TOTAL) resolve(performance.now());
    });
  });
  const started = performance.now();
  const per = TOTAL / (nodes.length * 2) / 10;
  for (let batch = 0; batch < 10; batch++) {
    for (const n of nodes) for (const i of n.run.instances) {
      const now = new Date().toISOString();
      appendFileSync(join(state, 'local', n.node.name, 'logs', `${i.unit}.log`), Array.from({ length: per }, (_, k) => `${now} followed ${batch}.${k}\n`).join(''));
    }
  }
  const ended = await done;
  child.kill('SIGINT');
  const ms = ended - started;
  return `${TOTAL.toLocaleString('en')} lines appended over 6 files in ${ms.toFixed(0)} ms: ${Math.round(TOTAL / (ms / 1000)).toLocaleString('en')} lines/s (lines that arrive together are shown in one write)`;
}

/** 200 applied nodes × 5 instances in `<dir>/state`, each pid file naming one live process (`sleeper`). */
export function writeLiveFleet(dir: string, sleeper: number): string {
  const state = join(dir, 'state');
  const nodes = Array.from({ length: 200 }, (_, k) => appliedNode(`node-${k + 1}`, 5));
  writeApplied(state, nodes);
  const record = JSON.stringify({ pid: sleeper, start: procStat(sleeper)!.start }) + '\n';
  for (const n of nodes) {
    mkdirSync(join(state, 'local', n.node.name, 'run'), { recursive: true });
    for (const i of n.run.instances) writeFileSync(join(state, 'local', n.node.name, 'run', `${i.unit}.pid`), record);
  }
  return state;
}

export async function benchPs(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-ps-'));
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
  try {
    const state = writeLiveFleet(dir, sleeper.pid!);
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await timeCommand(['ps', '--json', '--driver', 'local', '--state', state]));
    console.log(`\nskyrec ps, local driver: 200 nodes x 5 instances (1,000 rows, each a live process read from /proc), median of ${RUNS} runs: ${median(runs.map((x) => x.totalMs)).toFixed(0)} ms`);
  } finally {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Time to the first line of `skyrec logs` over ssh: 3 nodes (all the test sshd on 127.0.0.1, as
 * root), each with a stand-in journalctl printing 200 JSON lines per unit, through the nixos
 * driver with its ssh master connections (cold: none yet; warm: reused, as within a minute).
 */
export async function benchLogsSsh(): Promise<void> {
  const { startSshd } = await import('../helpers/sshd.js');
  const { createNixosDriver } = await import('../../fleet/drivers/nixos/driver-nixos.js');
  const { findAppUnits } = await import('../../reconciler/operate/app-units.js');
  const { streamAppLogs } = await import('../../reconciler/operate/logs.js');
  const { exec } = await import('../../common/exec.js');
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-ssh-'));
  const sshd = await startSshd(dir);
  try {
    const journalctl = join(dir, 'journalctl-standin');
    writeFileSync(journalctl, `#!/bin/sh
# Stand-in for journalctl -o json: 200 lines per -u unit.
while [ $# -gt 0 ]; do case "$1" in -u) u="$2"; i=0; while [ $i -lt 200 ]; do printf '{"__REALTIME_TIMESTAMP":"17000000%05d000000","_SYSTEMD_UNIT":"%s","MESSAGE":"GET /items/%s 200"}\\n' $i "$u" $i; i=$((i+1)); done; shift 2 ;; *) shift ;; esac; done
`, { mode: 0o755 });
    const applied = ['n1', 'n2', 'n3'].map((n) => {
      const a = appliedNode(n, 2);
      a.node.host = 'root@127.0.0.1';
      return a;
    });
    const units = findAppUnits(applied, { app: 'bench', cron: false });
    const firstLine = async (controlDir: string) => {
      const driver = createNixosDriver({ flakeDir: join(dir, 'flake'), exec, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: controlDir, operate: { journalctl } });
      const started = performance.now();
      let first = 0;
      let lines = 0;
      await streamAppLogs({ driver, units, query: { lines: 200, follow: false }, grep: null, warn: (n, m) => { throw new Error(`${n}: ${m}`); }, emit: () => { if (first === 0) first = performance.now() - started; lines++; } });
      return { first, total: performance.now() - started, lines };
    };
    const cold = [];
    const warm = [];
    for (let r = 0; r < RUNS; r++) {
      const control = join(dir, `ssh-${r}`);
      cold.push(await firstLine(control));
      warm.push(await firstLine(control));
      await exec(['sh', '-c', 'for s in "$1"/*; do ssh -o ControlPath="$s" -O exit x 2>/dev/null; done; true', 'sh', control]);
    }
    console.log(`\nskyrec logs over ssh (nixos driver, test sshd on 127.0.0.1, stand-in journalctl), 3 nodes x 2 units x 200 lines, -n 200, median of ${RUNS} runs`);
    console.log(`  cold (new ssh connections): first line ${median(cold.map((x) => x.first)).toFixed(0)} ms, done ${median(cold.map((x) => x.total)).toFixed(0)} ms`);
    console.log(`  warm (ssh masters reused):  first line ${median(warm.map((x) => x.first)).toFixed(0)} ms, done ${median(warm.map((x) => x.total)).toFixed(0)} ms`);
  } finally {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
