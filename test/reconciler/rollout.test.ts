// The rollout engine on its own: which nodes it switches, in which batches, and what a failure
// inside a parallel batch, after earlier batches succeeded, leaves behind. The nodes are a
// stand-in for a node driver; the state store and the applied records are the real ones.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import type { NodeDriver, NodeTarget } from '../../fleet/node/driver.js';
import { orderBatches, runRollout, selectChanged } from '../../reconciler/apply/rollout.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { makeTempDir } from '../helpers/tools.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function stateDir(): string {
  const t = makeTempDir('skyrec-rollout-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}

function openStore(dir: string): StateStore {
  const store = StateStore.open(dir);
  cleanups.unshift(() => store.close());
  return store;
}

/** A node without instances or routes: its health is the driver's word alone. */
function target(name: string, hash: string, revision: string): NodeTarget {
  return {
    node: { name, host: name, address: `10.0.0.${name.slice(-1)}`, system: 'x86_64-linux', labels: {}, memoryBytes: null, ingress: false, buildHost: null, sudo: null },
    rendered: { node: name, inputs: '', files: {}, manifest: { node: name, revision, hash, system: 'x86_64-linux', ingress: false, apps: {} } },
    revision,
    run: { node: name, instances: [], releases: [], postgres: [], redis: [], sources: [], unsupported: [], routes: null, routesOfNode: [] },
  } as NodeTarget;
}

/**
 * Stands in for a node driver (local or nixos) as the rollout uses it: each switch activates the
 * next generation of that node's profile, or throws for a node told to fail (as an activation
 * that exits non-zero does); rollbackNode makes an earlier generation current again. It keeps
 * the order in which switches started and ended, to tell batches apart.
 */
function nodeDriverStandIn(failSwitchOf: Set<string> = new Set()) {
  const current = new Map<string, number>();
  const last = new Map<string, number>();
  const events: string[] = [];
  const driver: NodeDriver = {
    kind: 'local',
    preflight: async () => [],
    currentGeneration: async (n) => current.get(n.name) ?? null,
    inspectNode: async (n) => ({ generation: current.get(n.name) ?? null, hash: null }),
    armRollback: async () => {},
    disarmRollback: async () => {},
    switchNode: async (t) => {
      events.push(`start ${t.node.name}`);
      await new Promise((r) => setImmediate(r)); // a switch takes time: others of its batch start meanwhile
      const g = (last.get(t.node.name) ?? 0) + 1;
      last.set(t.node.name, g);
      if (failSwitchOf.has(t.node.name)) {
        events.push(`failed ${t.node.name}`);
        throw new Error(`activation of generation ${g} exited with status 1`);
      }
      current.set(t.node.name, g);
      events.push(`end ${t.node.name}`);
      return { generation: g, deferred: [] };
    },
    rollbackNode: async (n, generation) => {
      events.push(`rollback ${n.name} to ${generation}`);
      current.set(n.name, generation!);
      return [];
    },
    restartUnit: async () => {},
    instanceUrl: (_n, _port, path) => `http://127.0.0.1:9${path}`,
    ingressUrl: () => 'http://127.0.0.1:9',
    inactiveUnits: async () => [],
    setDrained: async () => {},
  };
  return { driver, events, current };
}

const quiet = pino({ level: 'silent' });
const noProgress = () => ({ update() {}, done() {} });
const NODES = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6'];
const rollout = { canary: 1, maxParallel: 2, healthTimeoutMs: 5_000, autoRollback: true };

async function roll(dir: string, store: StateStore, driver: NodeDriver, revision: string, hashOf: (node: string) => string) {
  const targets = NODES.map((n) => target(n, hashOf(n), revision));
  return runRollout(
    { revision, targets, ingress: [], rollout },
    { driver, store, applied: openApplied(dir), sources: { listFiles: async () => [], readBytes: async () => Buffer.alloc(0) }, log: quiet, progress: noProgress },
  );
}

describe('orderBatches', () => {
  it('puts each canary alone, then batches of maxParallel, the last one short', () => {
    expect(orderBatches(NODES, { canary: 1, maxParallel: 2 })).toEqual([['node-1'], ['node-2', 'node-3'], ['node-4', 'node-5'], ['node-6']]);
    expect(orderBatches(NODES, { canary: 2, maxParallel: 4 })).toEqual([['node-1'], ['node-2'], ['node-3', 'node-4', 'node-5', 'node-6']]);
    expect(orderBatches(NODES, { canary: 0, maxParallel: 10 })).toEqual([NODES]);
  });

  it('with more canaries than nodes, every node is a canary; no nodes, no batches', () => {
    expect(orderBatches(['a', 'b'], { canary: 3, maxParallel: 2 })).toEqual([['a'], ['b']]);
    expect(orderBatches([], { canary: 1, maxParallel: 2 })).toEqual([]);
  });
});

describe('selectChanged', () => {
  it('picks nodes never applied, with another hash, not healthy at their last apply, or stopped since', async () => {
    const dir = stateDir();
    const store = openStore(dir);
    const { driver } = nodeDriverStandIn();
    expect((await roll(dir, store, driver, 'rev-a', () => 'h1')).outcome).toBe('succeeded');
    const targets = NODES.map((n) => target(n, n === 'node-2' ? 'h2' : 'h1', 'rev-b'));
    expect(selectChanged(targets, store).map((t) => t.node.name)).toEqual(['node-2']);
    store.setNode({ ...store.getNode('node-3')!, status: 'failed' });
    expect(selectChanged(targets, store).map((t) => t.node.name)).toEqual(['node-2', 'node-3']);
    expect(selectChanged(targets, store, { stopped: (n) => n.name === 'node-5' }).map((t) => t.node.name)).toEqual(['node-2', 'node-3', 'node-5']);
    const fresh = openStore(stateDir());
    expect(selectChanged(targets, fresh)).toHaveLength(6);
  });
});

describe('runRollout with a node driver stand-in', () => {
  it('switches batch after batch: no batch starts before the one before it has ended', async () => {
    const dir = stateDir();
    const store = openStore(dir);
    const { driver, events } = nodeDriverStandIn();
    const result = await roll(dir, store, driver, 'rev-a', () => 'h1');
    expect(result.outcome).toBe('succeeded');
    expect(result.nodes.map((n) => [n.node, n.result, n.generation])).toEqual(NODES.map((n) => [n, 'switched', 1]));
    // node-2 and node-3 run together (both start before either ends), after the canary.
    expect(events.slice(0, 2)).toEqual(['start node-1', 'end node-1']);
    expect(events.slice(2, 4).sort()).toEqual(['start node-2', 'start node-3']);
    expect(events.slice(4, 6).sort()).toEqual(['end node-2', 'end node-3']);
    expect(events.slice(6, 8).sort()).toEqual(['start node-4', 'start node-5']);
    expect(events.slice(-2)).toEqual(['start node-6', 'end node-6']);
  });

  it('a failure inside a parallel batch, after earlier batches succeeded: that node rolls back, its batch-mate finishes, the rest is not started, the revision is refused', async () => {
    const dir = stateDir();
    const store = openStore(dir);
    const fail = new Set<string>();
    const { driver, events, current } = nodeDriverStandIn(fail);
    expect((await roll(dir, store, driver, 'rev-a', () => 'h1')).outcome).toBe('succeeded');
    events.length = 0;
    fail.add('node-4');

    const result = await roll(dir, store, driver, 'rev-b', () => 'h2');
    expect(result.outcome).toBe('failed');
    expect(Object.fromEntries(result.nodes.map((n) => [n.node, [n.result, n.generation]]))).toEqual({
      'node-1': ['switched', 2],
      'node-2': ['switched', 2],
      'node-3': ['switched', 2],
      'node-4': ['rolled-back', 1],
      'node-5': ['switched', 2],
      'node-6': ['not-started', 1],
    });
    expect(result.nodes.find((n) => n.node === 'node-4')!.failures).toEqual(['switch failed: activation of generation 2 exited with status 1']);
    expect(events).toContain('rollback node-4 to 1');
    expect(events).not.toContain('start node-6');
    // What the nodes run and what the store says agree: node-4 back on 1, node-6 never touched.
    expect([...current.entries()].sort()).toEqual([['node-1', 2], ['node-2', 2], ['node-3', 2], ['node-4', 1], ['node-5', 2], ['node-6', 1]]);
    expect(store.getNode('node-4')).toMatchObject({ status: 'rolled-back', generation: 1, hash: 'h1', revision: 'rev-a' });
    expect(store.getNode('node-5')).toMatchObject({ status: 'healthy', generation: 2, hash: 'h2', revision: 'rev-b' });
    expect(store.getNode('node-6')).toMatchObject({ status: 'healthy', generation: 1, hash: 'h1', revision: 'rev-a' });
    expect(store.failedRevision('rev-b')?.reason).toMatch(/^node-4: switch failed: activation/);

    // The next revision switches the nodes left behind, and only those whose hash differs.
    fail.clear();
    const next = await roll(dir, store, driver, 'rev-c', () => 'h2');
    expect(next.outcome).toBe('succeeded');
    expect(next.nodes.filter((n) => n.result === 'switched').map((n) => n.node)).toEqual(['node-4', 'node-6']);
  });

  it('a failing canary stops the rollout before any other node starts', async () => {
    const dir = stateDir();
    const store = openStore(dir);
    const fail = new Set<string>();
    const { driver, events } = nodeDriverStandIn(fail);
    expect((await roll(dir, store, driver, 'rev-a', () => 'h1')).outcome).toBe('succeeded');
    events.length = 0;
    fail.add('node-1');
    const result = await roll(dir, store, driver, 'rev-b', () => 'h2');
    expect(result.outcome).toBe('failed');
    expect(result.nodes.map((n) => n.result)).toEqual(['rolled-back', 'not-started', 'not-started', 'not-started', 'not-started', 'not-started']);
    expect(events).toEqual(['start node-1', 'failed node-1', 'rollback node-1 to 1']);
  });
});
