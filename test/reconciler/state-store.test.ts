// The state store against a real SQLite file in a temp dir, including a real SIGKILL mid-transaction.
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StateError } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { StateStore, type NodeRecord } from '../../reconciler/state/state-store.js';
import { makeTempDir } from '../helpers/tools.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function tempDir(): string {
  const t = makeTempDir('skyrec-state-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A clock that ticks one second per reading, so every timestamp is distinct and predictable. */
function tickingClock(start = Date.parse('2026-01-01T00:00:00.000Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000) - 1000);
}
const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00.000Z') + s * 1000).toISOString();

function openStore(dir = join(tempDir(), 'state'), clock = tickingClock()): StateStore {
  const store = StateStore.open(dir, { clock });
  cleanups.unshift(() => store.close());
  return store;
}

const node = (name: string, over: Partial<Omit<NodeRecord, 'updatedAt'>> = {}): Omit<NodeRecord, 'updatedAt'> => ({
  node: name, revision: 'rev1', generation: 41, hash: `hash-${name}`, status: 'healthy', detail: null, ...over,
});

/** A child process can only run the compiled store; fail loudly rather than test stale code. */
function distModule(rel: string): string {
  const root = packageRoot();
  const js = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
  if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(root, rel)).mtimeMs) {
    throw new Error(`${js} is missing or older than ${rel}: run npx tsc -p tsconfig.json first`);
  }
  return pathToFileURL(js).href;
}

describe('StateStore', () => {
  it('creates a private directory and a WAL database with durable commits at schema version 4', () => {
    const dir = join(tempDir(), 'nested', 'state');
    const store = openStore(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // synchronous is per connection, so only the store's own connection can show it.
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(5);
    expect(existsSync(join(dir, 'state.sqlite'))).toBe(true);
  });

  it('keeps its data across reopening without migrating again', () => {
    const dir = join(tempDir(), 'state');
    const first = StateStore.open(dir, { clock: tickingClock() });
    first.setNode(node('web1'));
    first.close();
    first.close(); // idempotent
    expect(openStore(dir).getNode('web1')).toMatchObject({ node: 'web1', generation: 41 });
  });

  it('migrates version-1 and version-2 databases (earlier releases), keeping their data', () => {
    const dir = join(tempDir(), 'state');
    const v = StateStore.open(dir, { clock: tickingClock() });
    v.setNode(node('web1'));
    v.close();
    // Back to version 2: reconcile_runs as it was, with one cycle recorded; no drift or notifications table.
    let db = new Database(join(dir, 'state.sqlite'));
    db.exec(`DROP TABLE reconcile_runs; DROP TABLE drift; DROP TABLE notifications;
      CREATE TABLE reconcile_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, revision TEXT, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied','unchanged','invalid','failed','quarantined','error')), detail TEXT);
      INSERT INTO reconcile_runs (revision, started_at, finished_at, outcome, detail) VALUES ('${'a'.repeat(40)}', '${at(0)}', '${at(1)}', 'applied', '1 node(s) switched');`);
    db.pragma('user_version = 2');
    db.close();
    const store = openStore(dir);
    expect(store.getNode('web1')).toMatchObject({ node: 'web1', generation: 41 });
    expect(store.reconciler.runs()).toEqual([{ id: 1, revision: 'a'.repeat(40), startedAt: at(0), finishedAt: at(1), outcome: 'applied', detail: '1 node(s) switched', hasPlan: false }]);
    expect(store.reconciler.lastSuccess()).toEqual({ revision: 'a'.repeat(40), at: at(1) });
    const id = store.reconciler.startRun();
    expect(id).toBe(2);
    expect(store.reconciler.finishRun(id, { revision: 'b'.repeat(40), outcome: 'applied', detail: null, plan: 'the plan' })).toMatchObject({ id: 2, outcome: 'applied', hasPlan: true });
    expect(store.reconciler.runPlan(2)).toBe('the plan');
    store.close();

    // And from version 1: no reconcile_runs at all.
    db = new Database(join(dir, 'state.sqlite'));
    db.exec('DROP TABLE reconcile_runs; DROP TABLE drift; DROP TABLE notifications');
    db.pragma('user_version = 1');
    db.close();
    const again = openStore(dir);
    expect(again.getNode('web1')).toMatchObject({ node: 'web1', generation: 41 });
    expect(again.reconciler.runs()).toEqual([]);
  });

  it('records reconcile cycles from their start; a repeated finding folds into the run before it; a killed cycle is found and marked interrupted', () => {
    const store = openStore();
    const rev = 'c'.repeat(40);
    const first = store.reconciler.finishRun(store.reconciler.startRun(), { revision: rev, outcome: 'unchanged', detail: null });
    const second = store.reconciler.finishRun(store.reconciler.startRun(), { revision: rev, outcome: 'unchanged', detail: null });
    expect(second.id).toBe(first.id);
    expect(second.finishedAt > first.finishedAt).toBe(true);
    expect(store.reconciler.runs().map((r) => r.outcome)).toEqual(['unchanged']);
    // A different finding is a new run; an applied run never folds.
    store.reconciler.finishRun(store.reconciler.startRun(), { revision: rev, outcome: 'applied', detail: '1 node(s) switched' });
    store.reconciler.finishRun(store.reconciler.startRun(), { revision: rev, outcome: 'applied', detail: '1 node(s) switched' });
    expect(store.reconciler.runs().map((r) => r.outcome)).toEqual(['applied', 'applied', 'unchanged']);
    const cut = store.reconciler.startRun();
    expect(store.reconciler.interruptRuns('killed').map((r) => [r.id, r.outcome, r.detail])).toEqual([[cut, 'interrupted', 'killed']]);
    expect(store.reconciler.interruptRuns('killed')).toEqual([]);
    expect(() => store.reconciler.finishRun(cut, { revision: rev, outcome: 'applied', detail: null })).toThrow(StateError);
  });

  it('replaces drift findings with each check, and clears one node', () => {
    const store = openStore();
    const d = (n: string) => ({ node: n, expected: { generation: 2, hash: 'h2' }, found: { generation: 1, hash: 'h1' }, detail: 'generation 1 is active, skyrec applied 2' });
    store.reconciler.setDrift([d('web1'), d('web2')]);
    expect(store.reconciler.drift().map((x) => x.node)).toEqual(['web1', 'web2']);
    expect(store.reconciler.drift()[0]).toMatchObject({ ...d('web1'), detectedAt: expect.any(String) });
    store.reconciler.clearDrift('web1');
    expect(store.reconciler.drift().map((x) => x.node)).toEqual(['web2']);
    store.reconciler.setDrift([]);
    expect(store.reconciler.drift()).toEqual([]);
  });

  it('refuses a database written by a newer schema', () => {
    const dir = join(tempDir(), 'state');
    StateStore.open(dir).close();
    const db = new Database(join(dir, 'state.sqlite'));
    db.pragma('user_version = 7');
    db.close();
    expect(() => StateStore.open(dir)).toThrow(StateError);
    expect(() => StateStore.open(dir)).toThrow(/schema version 7/);
  });

  it('stores nodes with the clock time, overwrites them, and lists them sorted by name', () => {
    const store = openStore();
    expect(store.getNode('web1')).toBeNull();
    store.setNode(node('web2'));
    store.setNode(node('web1', { generation: null, hash: null, revision: null, status: 'unknown', detail: 'never seen' }));
    store.setNode(node('db1'));
    store.setNode(node('web2', { status: 'failed', generation: 42, detail: 'health check timed out' }));
    expect(store.getNode('web1')).toEqual({ ...node('web1', { generation: null, hash: null, revision: null, status: 'unknown', detail: 'never seen' }), updatedAt: at(1) });
    expect(store.listNodes()).toEqual([
      { ...node('db1'), updatedAt: at(2) },
      { ...node('web1', { generation: null, hash: null, revision: null, status: 'unknown', detail: 'never seen' }), updatedAt: at(1) },
      { ...node('web2', { status: 'failed', generation: 42, detail: 'health check timed out' }), updatedAt: at(3) },
    ]);
  });

  it('rejects a status outside the schema', () => {
    const store = openStore();
    expect(() => store.setNode(node('web1', { status: 'bogus' as never }))).toThrow(/CHECK constraint/);
  });

  it('begins and finishes rollouts, and reports only a running one as unfinished', () => {
    const store = openStore();
    expect(store.unfinishedRollout()).toBeNull();
    const id = store.beginRollout({ revision: 'abc123', driver: 'ssh', nodes: ['web2', 'web1', 'db1'] });
    expect(store.unfinishedRollout()).toEqual({
      id, revision: 'abc123', driver: 'ssh', nodes: ['web2', 'web1', 'db1'], startedAt: at(0), finishedAt: null, outcome: 'running', detail: null,
    });
    store.finishRollout(id, 'succeeded');
    expect(store.unfinishedRollout()).toBeNull();
    expect(store.history()[0]).toMatchObject({ id, outcome: 'succeeded', finishedAt: at(1), detail: null });
    expect(() => store.finishRollout(id, 'failed')).toThrow(/already finished/);
    expect(() => store.finishRollout(999, 'failed')).toThrow(/unknown/);
  });

  it('finds the newest of several running rollouts', () => {
    const store = openStore();
    store.beginRollout({ revision: 'a', driver: 'local', nodes: [] });
    const newer = store.beginRollout({ revision: null, driver: 'local', nodes: [] });
    expect(store.unfinishedRollout()).toMatchObject({ id: newer, revision: null });
  });

  it('finishes a step together with the node it changed', () => {
    const store = openStore();
    const rollout = store.beginRollout({ revision: 'rev2', driver: 'local', nodes: ['web1'] });
    const step = store.startStep({ rolloutId: rollout, node: 'web1', kind: 'switch', detail: 'to rev2', generation: 41 });
    store.finishStep(step, 'ok', null, node('web1', { revision: 'rev2', generation: 42 }));
    expect(store.getNode('web1')).toEqual({ ...node('web1', { revision: 'rev2', generation: 42 }), updatedAt: at(2) });
    expect(store.history()[0].steps).toEqual([
      { id: step, rolloutId: rollout, node: 'web1', kind: 'switch', startedAt: at(1), finishedAt: at(2), outcome: 'ok', detail: 'to rev2', generation: 41 },
    ]);
    const health = store.startStep({ rolloutId: rollout, node: 'web1', kind: 'health' });
    store.finishStep(health, 'failed', 'HTTP 502 from /healthz');
    expect(store.history()[0].steps[1]).toMatchObject({ kind: 'health', outcome: 'failed', detail: 'HTTP 502 from /healthz', generation: null });
    expect(store.getNode('web1')?.generation).toBe(42); // no node given: unchanged
  });

  it('writes no node when its step cannot be finished', () => {
    const store = openStore();
    const rollout = store.beginRollout({ revision: 'rev2', driver: 'local', nodes: ['web1'] });
    const step = store.startStep({ rolloutId: rollout, node: 'web1', kind: 'switch' });
    store.finishStep(step, 'ok');
    expect(() => store.finishStep(step, 'failed', null, node('web1'))).toThrow(/already finished/);
    expect(() => store.finishStep(999, 'ok', null, node('web1'))).toThrow(/unknown/);
    expect(store.getNode('web1')).toBeNull();
  });

  it('refuses a step for a rollout that does not exist', () => {
    expect(() => openStore().startStep({ rolloutId: 5, node: 'web1', kind: 'switch' })).toThrow(/FOREIGN KEY/);
  });

  it('marks, reads, re-marks and clears failed revisions', () => {
    const store = openStore();
    expect(store.failedRevision('abc')).toBeNull();
    store.markRevisionFailed('abc', 'web1 unhealthy');
    expect(store.failedRevision('abc')).toEqual({ reason: 'web1 unhealthy', at: at(0) });
    store.markRevisionFailed('abc', 'web2 unreachable');
    expect(store.failedRevision('abc')).toEqual({ reason: 'web2 unreachable', at: at(1) });
    expect(store.failedRevision('def')).toBeNull();
    store.clearFailedRevision('abc');
    expect(store.failedRevision('abc')).toBeNull();
  });

  it('lists history newest first, each rollout with its own steps oldest first, up to the limit', () => {
    const store = openStore();
    const ids = ['r1', 'r2', 'r3'].map((revision) => store.beginRollout({ revision, driver: 'local', nodes: ['a', 'b'] }));
    // Interleave steps across rollouts so grouping, not insertion order alone, is tested.
    for (const n of ['a', 'b']) for (const id of ids) store.startStep({ rolloutId: id, node: n, kind: 'switch' });
    store.finishRollout(ids[0], 'failed', 'b unhealthy');
    const all = store.history();
    expect(all.map((r) => r.revision)).toEqual(['r3', 'r2', 'r1']);
    for (const r of all) {
      expect(r.steps.map((s) => [s.rolloutId, s.node])).toEqual([[r.id, 'a'], [r.id, 'b']]);
    }
    expect(all[2]).toMatchObject({ outcome: 'failed', detail: 'b unhealthy' });
    expect(store.history(2).map((r) => r.revision)).toEqual(['r3', 'r2']);
    expect(store.history(0)).toEqual([]);
    expect(() => store.history(-1)).toThrow(StateError);
  });

  it('commits a transaction whole or not at all', () => {
    const store = openStore();
    expect(store.transaction(() => {
      store.setNode(node('web1'));
      store.markRevisionFailed('abc', 'x');
      return 'done';
    })).toBe('done');
    const rollout = store.beginRollout({ revision: 'r', driver: 'local', nodes: ['web1'] });
    const step = store.startStep({ rolloutId: rollout, node: 'web1', kind: 'switch' });
    expect(() => store.transaction(() => {
      store.finishStep(step, 'ok', null, node('web1', { generation: 99 }));
      store.clearFailedRevision('abc');
      throw new Error('boom');
    })).toThrow('boom');
    expect(store.getNode('web1')?.generation).toBe(41);
    expect(store.failedRevision('abc')).not.toBeNull();
    expect(store.history()[0].steps[0].outcome).toBe('running');
  });

  it('survives SIGKILL inside a transaction: the rollout stays running and the half-done write leaves no trace', async () => {
    const dir = join(tempDir(), 'state');
    const marker = join(dir, '..', 'reached-transaction.json');
    const child = `
      import { writeFileSync } from 'node:fs';
      const { StateStore } = await import(${JSON.stringify(distModule('reconciler/state/state-store.ts'))});
      const [dir, marker] = process.argv.slice(1);
      const store = StateStore.open(dir);
      store.setNode({ node: 'web1', revision: 'old', generation: 41, hash: 'h-old', status: 'healthy', detail: null });
      const rolloutId = store.beginRollout({ revision: 'new', driver: 'local', nodes: ['web1', 'web2'] });
      const stepId = store.startStep({ rolloutId, node: 'web1', kind: 'switch', generation: 41 });
      store.transaction(() => {
        store.finishStep(stepId, 'ok', 'switched', { node: 'web1', revision: 'new', generation: 42, hash: 'h-new', status: 'healthy', detail: null });
        // Enough to overflow the page cache, so uncommitted pages reach the WAL file before the kill.
        for (let i = 0; i < 4000; i++) store.setNode({ node: 'bulk' + i, revision: 'new', generation: i, hash: null, status: 'switching', detail: 'x'.repeat(2000) });
        writeFileSync(marker, JSON.stringify({ rolloutId, stepId }));
        process.kill(process.pid, 'SIGKILL');
      });
      writeFileSync(marker, 'not killed');`;
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', child, dir, marker], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += String(d)));
      p.on('error', reject);
      p.on('close', (code, signal) => resolve({ code, signal, stderr }));
    });
    expect(exit, exit.stderr).toMatchObject({ signal: 'SIGKILL' });
    const { rolloutId, stepId } = JSON.parse(readFileSync(marker, 'utf8')) as { rolloutId: number; stepId: number };

    const store = openStore(dir);
    expect(store.unfinishedRollout()).toMatchObject({ id: rolloutId, revision: 'new', nodes: ['web1', 'web2'], outcome: 'running', finishedAt: null });
    expect(store.listNodes()).toEqual([expect.objectContaining({ node: 'web1', revision: 'old', generation: 41, hash: 'h-old' })]);
    expect(store.history()[0].steps).toEqual([expect.objectContaining({ id: stepId, outcome: 'running', finishedAt: null, detail: null })]);
    const db = new Database(join(dir, 'state.sqlite'));
    cleanups.unshift(() => db.close());
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // And the store carries on: the next apply records the interruption.
    store.finishRollout(rolloutId, 'interrupted', 'process died');
    expect(store.unfinishedRollout()).toBeNull();
  }, 30_000);
});
