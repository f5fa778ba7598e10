// `npm run bench` (rollout part): the rollout engine's own overhead. Nodes whose switch is a
// stand-in that takes a fixed time (no processes); everything else is real: the state store
// (SQLite, a transaction per step), the applied store, ordering, drains, progress.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { standinDriver } from './standin-driver.js';
import { runRollout } from '../../reconciler/apply/rollout.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import type { Logger } from '../../common/log.js';
import type { NodeTarget } from '../../fleet/node/driver.js';
import { QUICK } from './bench-size.js';

export interface RolloutFigure {
  nodes: number;
  wallMs: number;
  idealMs: number;
  /** (wall - ideal) / nodes */
  overheadMs: number;
  outcome: string;
}

function standinTargets(count: number): NodeTarget[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => {
    const name = `node-${String(i).padStart(width, '0')}`;
    return {
      node: { name, host: name, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, system: 'x86_64-linux' as const, labels: {}, memoryBytes: null, ingress: false, buildHost: null, sudo: null },
      rendered: { node: name, inputs: '', files: {}, manifest: { node: name, revision: null, hash: `h-${name}`, system: 'x86_64-linux', ingress: false, apps: {} } },
      revision: 'bench',
      run: { node: name, instances: [], releases: [], postgres: [], redis: [], sources: [], unsupported: [], routes: null, routesOfNode: [] },
    };
  });
}

/** One rollout of `nodes` stand-in nodes, no canary: ideally ceil(nodes / maxParallel) batches of `switchMs`. */
export async function measureRollout(opts: { nodes: number; switchMs: number; maxParallel: number; parent?: string }): Promise<RolloutFigure> {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), 'skyrec-bench-rollout-'));
  try {
    const targets = standinTargets(opts.nodes);
    const store = StateStore.open(join(dir, 'state'));
    const silent = { update() {}, done() {} };
    const log: Logger = pino({ level: 'silent' }); // runRollout takes a child logger per node
    const started = performance.now();
    const result = await runRollout(
      { revision: 'bench', targets, ingress: [], rollout: { maxParallel: opts.maxParallel, canary: 0, healthTimeoutMs: 60_000, autoRollback: true } },
      { driver: standinDriver(opts.switchMs), store, applied: openApplied(join(dir, 'state')), sources: { listFiles: async () => [], readBytes: async () => Buffer.alloc(0) }, log, progress: () => silent },
    );
    const wallMs = performance.now() - started;
    store.close();
    const idealMs = Math.ceil(opts.nodes / opts.maxParallel) * opts.switchMs;
    return { nodes: opts.nodes, wallMs, idealMs, overheadMs: (wallMs - idealMs) / opts.nodes, outcome: result.outcome };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 50 nodes with the state dir on disk: every step is a durable SQLite commit (synchronous=FULL,
 * an fsync each), which is most of the cost per node. 10,000 nodes with the state dir on tmpfs
 * (/dev/shm), where commits cost no fsync: the engine's own work per node.
 */
export async function benchRollout(): Promise<void> {
  const tmpfs = existsSync('/dev/shm') ? '/dev/shm' : undefined;
  const runs = [
    { nodes: 50, switchMs: 200, maxParallel: 10, where: 'state dir on disk' },
    ...(QUICK ? [] : [{ nodes: 10_000, switchMs: 20, maxParallel: 100, parent: tmpfs, where: tmpfs ? 'state dir on tmpfs' : 'state dir on disk' }]),
  ];
  for (const run of runs) {
    const f = await measureRollout(run);
    console.log(`\nrollout engine: ${run.nodes.toLocaleString('en')} nodes, stand-in switch of ${run.switchMs} ms, maxParallel ${run.maxParallel}, no canary, ${run.where} (${f.outcome})`);
    console.log(`  wall ${f.wallMs.toFixed(0)} ms, ideal ${f.idealMs} ms (${Math.ceil(run.nodes / run.maxParallel)} batches x ${run.switchMs} ms; health checks of a node without instances take ~0 ms)`);
    console.log(`  overhead ${f.overheadMs.toFixed(2)} ms per node`);
  }
}

// `node dist/test/bench/bench-rollout.js N` measures one rollout of N nodes (for --cpu-prof).
if (process.argv[1]?.endsWith('bench-rollout.js') && process.argv[2]) {
  const f = await measureRollout({ nodes: Number(process.argv[2]), switchMs: Number(process.argv[3] ?? 20), maxParallel: Number(process.argv[4] ?? 100) });
  console.log(JSON.stringify(f));
}
