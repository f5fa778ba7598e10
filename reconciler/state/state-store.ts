// What the reconciler knows about the fleet and its rollouts, in one SQLite file. It must survive
// a crash or SIGKILL at any point: WAL with synchronous=FULL makes every commit durable, and
// writes that belong together (a step's end and the node it changed) share one transaction.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../common/errors.js';
import { keepIdsAbove, migrate } from './migrations.js';
import { ReconcilerRecords } from './reconciler-records.js';
import { NotifyRecords } from './notify-records.js';
import { raiseHighWater, readHighWater } from './backup-files.js';
import { damagedStore, dbFileState, isDamage, refuseSilentReset } from './state-guard.js';

export type NodeStatus = 'healthy' | 'switching' | 'checking' | 'failed' | 'rolled-back' | 'unknown';
export interface NodeRecord { node: string; revision: string | null; generation: number | null; hash: string | null; status: NodeStatus; detail: string | null; updatedAt: string }
export type RolloutOutcome = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'noop';
export interface RolloutRecord { id: number; revision: string | null; driver: string; nodes: string[]; startedAt: string; finishedAt: string | null; outcome: RolloutOutcome; detail: string | null }
export type StepKind = 'switch' | 'health' | 'rollback' | 'skip' | 'resume';
export interface StepRecord { id: number; rolloutId: number; node: string; kind: StepKind; startedAt: string; finishedAt: string | null; outcome: 'running' | 'ok' | 'failed'; detail: string | null; generation: number | null }

const NODE_COLS = 'node, revision, generation, hash, status, detail, updated_at AS updatedAt';
const ROLLOUT_COLS = 'id, revision, driver, nodes, started_at AS startedAt, finished_at AS finishedAt, outcome, detail';
const STEP_COLS = 'id, rollout_id AS rolloutId, node, kind, started_at AS startedAt, finished_at AS finishedAt, outcome, detail, generation';

type RolloutRow = Omit<RolloutRecord, 'nodes'> & { nodes: string };
const toRollout = (r: RolloutRow): RolloutRecord => ({ ...r, nodes: JSON.parse(r.nodes) as string[] });

function prepareAll(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    getNode: p(`SELECT ${NODE_COLS} FROM nodes WHERE node = ?`),
    listNodes: p(`SELECT ${NODE_COLS} FROM nodes ORDER BY node`),
    upsertNode: p(`INSERT INTO nodes (node, revision, generation, hash, status, detail, updated_at)
      VALUES (@node, @revision, @generation, @hash, @status, @detail, @updatedAt)
      ON CONFLICT (node) DO UPDATE SET revision = excluded.revision, generation = excluded.generation,
        hash = excluded.hash, status = excluded.status, detail = excluded.detail, updated_at = excluded.updated_at`),
    insertRollout: p(`INSERT INTO rollouts (revision, driver, nodes, started_at, outcome) VALUES (?, ?, ?, ?, 'running')`),
    finishRollout: p(`UPDATE rollouts SET outcome = ?, detail = ?, finished_at = ? WHERE id = ? AND outcome = 'running'`),
    getRollout: p(`SELECT ${ROLLOUT_COLS} FROM rollouts WHERE id = ?`),
    unfinished: p(`SELECT ${ROLLOUT_COLS} FROM rollouts WHERE outcome = 'running' ORDER BY id DESC LIMIT 1`),
    recentRollouts: p(`SELECT ${ROLLOUT_COLS} FROM rollouts ORDER BY id DESC LIMIT ?`),
    recentSteps: p(`SELECT ${STEP_COLS} FROM steps
      WHERE rollout_id IN (SELECT id FROM rollouts ORDER BY id DESC LIMIT ?) ORDER BY id`),
    insertStep: p(`INSERT INTO steps (rollout_id, node, kind, started_at, outcome, detail, generation)
      VALUES (?, ?, ?, ?, 'running', ?, ?)`),
    finishStep: p(`UPDATE steps SET outcome = ?, detail = coalesce(?, detail), finished_at = ? WHERE id = ? AND outcome = 'running'`),
    getStep: p(`SELECT ${STEP_COLS} FROM steps WHERE id = ?`),
    upsertFailed: p(`INSERT INTO failed_revisions (revision, reason, at) VALUES (?, ?, ?)
      ON CONFLICT (revision) DO UPDATE SET reason = excluded.reason, at = excluded.at`),
    getFailed: p(`SELECT reason, at FROM failed_revisions WHERE revision = ?`),
    deleteFailed: p(`DELETE FROM failed_revisions WHERE revision = ?`),
    listFailed: p(`SELECT revision, reason, at FROM failed_revisions ORDER BY at DESC`),
    rollbackCount: p(`SELECT count(*) AS n FROM steps WHERE kind = 'rollback'`),
    latestRollout: p(`SELECT max(id) AS id FROM rollouts`),
  };
}

export class StateStore {
  private readonly st: ReturnType<typeof prepareAll>;
  /** The reconciler's cycles and drift findings. */
  readonly reconciler: ReconcilerRecords;
  /** The notification queue. */
  readonly notifications: NotifyRecords;
  private readonly finishStepTx: Database.Transaction<(id: number, outcome: 'ok' | 'failed', detail: string | null, node: Omit<NodeRecord, 'updatedAt'> | null) => void>;
  private readonly historyTx: Database.Transaction<(limit: number) => (RolloutRecord & { steps: StepRecord[] })[]>;

  private constructor(
    private readonly db: Database.Database,
    private readonly clock: () => Date,
    readonly stateDir: string,
  ) {
    this.st = prepareAll(db);
    this.reconciler = new ReconcilerRecords(db, () => this.now(), (id) => raiseHighWater(stateDir, 'run', id));
    this.notifications = new NotifyRecords(db, () => this.clock());
    this.finishStepTx = db.transaction((id: number, outcome: 'ok' | 'failed', detail: string | null, node: Omit<NodeRecord, 'updatedAt'> | null) => {
      const now = this.now();
      if (this.st.finishStep.run(outcome, detail, now, id).changes === 0) {
        const state = this.st.getStep.get(id) ? 'already finished' : 'unknown';
        throw new StateError(`step ${id} is ${state}`);
      }
      if (node) this.writeNode(node, now);
    });
    // One read transaction so the steps match the rollouts even while another process writes.
    this.historyTx = db.transaction((limit: number) => {
      const steps = this.st.recentSteps.all(limit) as StepRecord[];
      return (this.st.recentRollouts.all(limit) as RolloutRow[]).map((r) => ({
        ...toRollout(r),
        steps: steps.filter((s) => s.rolloutId === r.id),
      }));
    });
  }

  /**
   * Opens (or, in a state directory never used before, creates) the database. Refuses a missing
   * or empty one where the directory shows earlier use, and names a damaged one (state-guard.ts).
   */
  static open(stateDir: string, opts: { clock?: () => Date } = {}): StateStore {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, 'state.sqlite');
    const file = dbFileState(path);
    if (file !== 'present') refuseSilentReset(stateDir, path, file);
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (e) {
      throw isDamage(e) ? damagedStore(stateDir, path, e) : e;
    }
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StateError(`cannot use WAL journaling for ${db.name} (got ${String(mode)})`, { hint: 'put the state directory on a local filesystem' });
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      if (file === 'present' && (db.pragma('user_version', { simple: true }) as number) === 0) refuseSilentReset(stateDir, path, 'empty');
      migrate(db);
      const hw = readHighWater(stateDir);
      // A write transaction only when a sequence is below the mark (after a restore), not at every open.
      const seq = (table: string) => (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined)?.seq ?? 0;
      if (seq('reconcile_runs') < hw.run || seq('rollouts') < hw.rollout) {
        db.transaction(() => {
          keepIdsAbove(db, 'reconcile_runs', hw.run);
          keepIdsAbove(db, 'rollouts', hw.rollout);
        }).immediate();
      }
      return new StateStore(db, opts.clock ?? (() => new Date()), stateDir);
    } catch (e) {
      db.close();
      throw isDamage(e) ? damagedStore(stateDir, path, e) : e;
    }
  }

  /** SQLite's quick_check of every page: a damaged file is found at start, not by the first query that reads the bad page. */
  check(): void {
    let result: string[];
    try {
      result = (this.db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
    } catch (e) {
      throw isDamage(e) ? damagedStore(this.stateDir, this.db.name, e) : e;
    }
    if (result[0] !== 'ok') throw damagedStore(this.stateDir, this.db.name, new Error(result.slice(0, 3).join('; ')));
  }

  /** A consistent copy of the database at `file` (SQLite's online backup), taken while it is in use. */
  async copyTo(file: string): Promise<void> {
    await this.db.backup(file);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  getNode(node: string): NodeRecord | null {
    return (this.st.getNode.get(node) as NodeRecord | undefined) ?? null;
  }

  listNodes(): NodeRecord[] {
    return this.st.listNodes.all() as NodeRecord[];
  }

  beginRollout(r: { revision: string | null; driver: string; nodes: string[] }): number {
    const id = Number(this.st.insertRollout.run(r.revision, r.driver, JSON.stringify(r.nodes), this.now()).lastInsertRowid);
    raiseHighWater(this.stateDir, 'rollout', id);
    return id;
  }

  /** Only a running rollout can finish: finishing one twice is a caller bug that would rewrite history. */
  finishRollout(id: number, outcome: Exclude<RolloutOutcome, 'running'>, detail: string | null = null): void {
    if (this.st.finishRollout.run(outcome, detail, this.now(), id).changes === 0) {
      throw new StateError(`rollout ${id} is ${this.st.getRollout.get(id) ? 'already finished' : 'unknown'}`);
    }
  }

  /**
   * The newest rollout still 'running' (its process died: a crash or SIGKILL), or null.
   * Ask before beginRollout, while holding the apply lock, or it finds the caller's own rollout.
   */
  unfinishedRollout(): RolloutRecord | null {
    const row = this.st.unfinished.get() as RolloutRow | undefined;
    return row ? toRollout(row) : null;
  }

  startStep(s: { rolloutId: number; node: string; kind: StepKind; detail?: string | null; generation?: number | null }): number {
    const info = this.st.insertStep.run(s.rolloutId, s.node, s.kind, this.now(), s.detail ?? null, s.generation ?? null);
    return Number(info.lastInsertRowid);
  }

  /**
   * Ends a step and, in the SAME transaction, optionally updates the node record: a crash never
   * leaves one without the other. A null detail keeps the detail given at startStep.
   */
  finishStep(id: number, outcome: 'ok' | 'failed', detail: string | null = null, node: Omit<NodeRecord, 'updatedAt'> | null = null): void {
    this.finishStepTx.immediate(id, outcome, detail, node);
  }

  setNode(record: Omit<NodeRecord, 'updatedAt'>): void {
    this.writeNode(record, this.now());
  }

  markRevisionFailed(revision: string, reason: string): void {
    this.st.upsertFailed.run(revision, reason, this.now());
  }

  failedRevision(revision: string): { reason: string; at: string } | null {
    return (this.st.getFailed.get(revision) as { reason: string; at: string } | undefined) ?? null;
  }

  clearFailedRevision(revision: string): void {
    this.st.deleteFailed.run(revision);
  }

  quarantined(): { revision: string; reason: string; at: string }[] {
    return this.st.listFailed.all() as { revision: string; reason: string; at: string }[];
  }

  /** The id of the newest rollout of any apply (null: none yet): tells whether anything applied since. */
  latestRolloutId(): number | null {
    return (this.st.latestRollout.get() as { id: number | null }).id;
  }

  /** Rollback steps recorded, ever. */
  rollbackCount(): number {
    return (this.st.rollbackCount.get() as { n: number }).n;
  }

  /** Newest first, with their steps (oldest step first). */
  history(limit = 20): (RolloutRecord & { steps: StepRecord[] })[] {
    if (!Number.isInteger(limit) || limit < 0) throw new StateError(`history limit must be a whole number, got ${limit}`);
    return this.historyTx.deferred(limit);
  }

  /** Runs fn in one IMMEDIATE transaction (nested calls become savepoints). fn must be synchronous. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private writeNode(r: Omit<NodeRecord, 'updatedAt'>, updatedAt: string): void {
    this.st.upsertNode.run({
      node: r.node, revision: r.revision ?? null, generation: r.generation ?? null, hash: r.hash ?? null,
      status: r.status, detail: r.detail ?? null, updatedAt,
    });
  }

  private now(): string {
    return this.clock().toISOString();
  }
}
