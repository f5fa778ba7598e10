// `npm run bench` (BENCH_ONLY=live): what the live instance states cost the status page, the API
// and a scrape (reconciler/daemon/live-instances.ts), on the same 200 nodes × 5 instances as the
// ps bench (local driver, each pid file naming a live process): a fresh reading, a cached one,
// and a fleet where one node never answers (the first request waits its bound, the next do not).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { createLocalDriver } from '../../fleet/drivers/local/driver-local.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { fleetApps } from '../../reconciler/daemon/fleet-apps.js';
import { createLiveInstances } from '../../reconciler/daemon/live-instances.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { writeLiveFleet } from './bench-operate.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

export async function benchLiveStatus(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-live-'));
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
  try {
    const state = writeLiveFleet(dir, sleeper.pid!);
    const status = { apps: fleetApps(state) } as DaemonStatus;
    const local = createLocalDriver({ stateDir: state, secretsDir: null, httpPort: 0, exec, log: pino({ level: 'silent' }) });
    const applied = () => openApplied(state).all();

    const fresh = createLiveInstances({ driver: local, applied, cacheMs: 0 });
    const cached = createLiveInstances({ driver: local, applied, cacheMs: 60_000 });
    await cached.decorate(status);
    const freshMs: number[] = [];
    const cachedMs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      freshMs.push(await timed(() => fresh.decorate(status)));
      cachedMs.push(await timed(() => cached.decorate(status)));
    }
    // node-1 never answers; the others as above.
    const silent: NodeDriver = { ...local, unitStatus: (node, units) => (node.name === 'node-1' ? new Promise(() => undefined) : local.unitStatus!(node, units)) };
    const hung = createLiveInstances({ driver: silent, applied, cacheMs: 0, nodeTimeoutMs: 2000 });
    const firstHung = await timed(() => hung.decorate(status));
    const nextHung: number[] = [];
    for (let r = 0; r < RUNS; r++) nextHung.push(await timed(() => hung.decorate(status)));

    console.log(`\nlive instance states for the status page, /api/status and /metrics: 200 nodes x 5 instances (local driver, /proc), median of ${RUNS}`);
    console.log(`  fresh reading ${median(freshMs).toFixed(0)} ms; cached (within 2 s) ${median(cachedMs).toFixed(2)} ms`);
    console.log(`  one node never answering (bound 2,000 ms): first request ${firstHung.toFixed(0)} ms, later ones ${median(nextHung).toFixed(0)} ms (its question still open: shown unreachable at once)`);
  } finally {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
