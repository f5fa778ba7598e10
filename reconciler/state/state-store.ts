// What the reconciler knows about the fleet and its rollouts, in one SQLite file. It must survive
// a crash or SIGKILL at any point: WAL with synchronous=FULL makes every commit durable, and
// writes that belong together (a step's end and the node it changed) share one transaction.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../common/errors.js';
import { MIGRATIONS } from './migrations.js';

export type NodeStatus = 'healthy' | 'switching' | 'checking' | 'failed' | 'rolled-back' | 'unknown';
export interface NodeRecord { node: string; revision: string | null; generation: number | null; hash: string | null; status: NodeStatus; detail: string | null; updatedAt: string }
export type RolloutOutcome = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'noop';
export interface RolloutRecord { id: number; revision: string | null; driver: string; nodes: string[]; startedAt: string; finishedAt: string | null; outcome: RolloutOutcome; detail: string | null }
export type StepKind = 'switch' | 'health' | 'rollback' | 'skip' | 'resume';
export type RunOutcome = 'applied' | 'unchanged' | 'invalid' | 'failed' | 'quarantined' | 'interrupted' | 'error';
/** One cycle of the reconciler: the revision it found and what came of it (finishedAt is when it was last seen). */
export interface RunRecord { id: number; revision: string | null; startedAt: string; finishedAt: string; outcome: RunOutcome; detail: string | null; hasPlan: boolean }
/** A node whose active generation or rendered config is not what skyrec last applied to it. */
export interface NodeDrift {
  node: string;
  /** What skyrec recorded, and what the node has now (null: none, or could not be read). */
  expected: { generation: number | null; hash: string | null };
  found: { generation: number | null; hash: string | null };
  detail: string;
  detectedAt: string;
}
export interface StepRecord { id: number; rolloutId: number; node: string; kind: StepKind; startedAt: string; finishedAt: string | null; outcome: 'running' | 'ok' | 'failed'; detail: string | null; generation: number | null }

const NODE_COLS = 'node, revision, generation, hash, status, detail, updated_at AS updatedAt';
const ROLLOUT_COLS = 'id, revision, driver, nodes, started_at AS startedAt, finished_at AS finishedAt, outcome, detail';
const RUN_COLS = 'id, revision, started_at AS startedAt, finished_at AS finishedAt, outcome, detail, plan IS NOT NULL AS hasPlan';
const STEP_COLS = 'id, rollout_id AS rolloutId, node, kind, started_at AS startedAt, finished_at AS finishedAt, outcome, detail, generation';

type RolloutRow = Omit<RolloutRecord, 'nodes'> & { nodes: string };
type RunRow = Omit<RunRecord, 'hasPlan'> & { hasPlan: number };
const toRun = (r: RunRow): RunRecord => ({ ...r, hasPlan: r.hasPlan === 1 });
/** Outcomes that a cycle finds again and again while nothing changes: recorded once, then only "seen again". */
const REPEATING: RunOutcome[] = ['unchanged', 'quarantined', 'invalid'];
const toRollout = (r: RolloutRow): RolloutRecord => ({ ...r, nodes: JSON.parse(r.nodes) as string[] });

function migrate(db: Database.Database): void {
  // IMMEDIATE: two processes opening a fresh file at once must not both run version 1.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new StateError(`${db.name} has schema version ${version}, newer than this skyrec knows (${MIGRATIONS.length})`, {
        hint: 'run the skyrec version that wrote it, or a newer one',
      });
    }
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

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
    startRun: p(`INSERT INTO reconcile_runs (started_at, outcome) VALUES (?, 'running')`),
    finishRun: p(`UPDATE reconcile_runs SET revision = ?, outcome = ?, detail = ?, plan = ?, finished_at = ? WHERE id = ? AND outcome = 'running'`),
    lastFinishedRun: p(`SELECT ${RUN_COLS} FROM reconcile_runs WHERE outcome != 'running' ORDER BY id DESC LIMIT 1`),
    seenAgain: p(`UPDATE reconcile_runs SET finished_at = ? WHERE id = ?`),
    deleteRun: p(`DELETE FROM reconcile_runs WHERE id = ?`),
    interruptRuns: p(`UPDATE reconcile_runs SET outcome = 'interrupted', finished_at = ?, detail = ? WHERE outcome = 'running' RETURNING ${RUN_COLS}`),
    recentRuns: p(`SELECT ${RUN_COLS} FROM reconcile_runs ORDER BY id DESC LIMIT ?`),
    lastSuccess: p(`SELECT revision, finished_at AS at FROM reconcile_runs WHERE outcome IN ('applied','unchanged') ORDER BY id DESC LIMIT 1`),
    getRun: p(`SELECT ${RUN_COLS} FROM reconcile_runs WHERE id = ?`),
    runPlan: p(`SELECT plan FROM reconcile_runs WHERE id = ?`),
    listFailed: p(`SELECT revision, reason, at FROM failed_revisions ORDER BY at DESC`),
    rollbackCount: p(`SELECT count(*) AS n FROM steps WHERE kind = 'rollback'`),
    latestRollout: p(`SELECT max(id) AS id FROM rollouts`),
    clearDrift: p(`DELETE FROM drift`),
    deleteDrift: p(`DELETE FROM drift WHERE node = ?`),
    insertDrift: p(`INSERT INTO drift (node, expected_generation, expected_hash, found_generation, found_hash, detail, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    listDrift: p(`SELECT node, expected_generation AS eg, expected_hash AS eh, found_generation AS fg, found_hash AS fh, detail, detected_at AS detectedAt FROM drift ORDER BY node`),
  };
}

export class StateStore {
  private readonly st: ReturnType<typeof prepareAll>;
  private readonly finishStepTx: Database.Transaction<(id: number, outcome: 'ok' | 'failed', detail: string | null, node: Omit<NodeRecord, 'updatedAt'> | null) => void>;
  private readonly historyTx: Database.Transaction<(limit: number) => (RolloutRecord & { steps: StepRecord[] })[]>;

  private constructor(
    private readonly db: Database.Database,
    private readonly clock: () => Date,
  ) {
    this.st = prepareAll(db);
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

  static open(stateDir: string, opts: { clock?: () => Date } = {}): StateStore {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const db = new Database(join(stateDir, 'state.sqlite'));
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StateError(`cannot use WAL journaling for ${db.name} (got ${String(mode)})`, { hint: 'put the state directory on a local filesystem' });
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      return new StateStore(db, opts.clock ?? (() => new Date()));
    } catch (e) {
      db.close();
      throw e;
    }
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
    return Number(this.st.insertRollout.run(r.revision, r.driver, JSON.stringify(r.nodes), this.now()).lastInsertRowid);
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

  /** A cycle begins: recorded at once, so a cycle cut short by a kill is found by the next start. */
  startRun(): number {
    return Number(this.st.startRun.run(this.now()).lastInsertRowid);
  }

  /**
   * A cycle ends. A cycle that finds what the one before it found (same revision, and unchanged,
   * quarantined or invalid) is folded into that one, whose finishedAt becomes "last seen": a
   * loop polling every 30 s keeps a history of what happened, not of every poll.
   */
  finishRun(id: number, r: { revision: string | null; outcome: RunOutcome; detail: string | null; plan?: string | null }): RunRecord {
    return this.db.transaction((): RunRecord => {
      const now = this.now();
      const last = this.st.lastFinishedRun.get() as RunRow | undefined;
      if (last && last.id < id && REPEATING.includes(r.outcome) && last.outcome === r.outcome && last.revision === r.revision && last.detail === r.detail) {
        this.st.deleteRun.run(id);
        this.st.seenAgain.run(now, last.id);
        return toRun({ ...last, finishedAt: now });
      }
      if (this.st.finishRun.run(r.revision, r.outcome, r.detail, r.plan ?? null, now, id).changes === 0) throw new StateError(`reconcile run ${id} is not running`);
      return toRun(this.st.getRun.get(id) as RunRow);
    }).immediate();
  }

  /** Marks cycles left 'running' by a process that died as interrupted; returns them. */
  interruptRuns(detail: string): RunRecord[] {
    return (this.st.interruptRuns.all(this.now(), detail) as RunRow[]).map(toRun);
  }

  /** The reconciler's cycles, newest first. */
  runs(limit = 20): RunRecord[] {
    return (this.st.recentRuns.all(limit) as RunRow[]).map(toRun);
  }

  runPlan(id: number): string | null {
    return (this.st.runPlan.get(id) as { plan: string | null } | undefined)?.plan ?? null;
  }

  /** The revision of the last cycle that applied it or found it applied: what the fleet runs. */
  lastSuccess(): { revision: string; at: string } | null {
    return (this.st.lastSuccess.get() as { revision: string; at: string } | undefined) ?? null;
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

  /** Replaces the drift findings with those of the check just made. */
  setDrift(found: Omit<NodeDrift, 'detectedAt'>[]): void {
    this.db.transaction(() => {
      const now = this.now();
      this.st.clearDrift.run();
      for (const d of found) this.st.insertDrift.run(d.node, d.expected.generation, d.expected.hash, d.found.generation, d.found.hash, d.detail, now);
    }).immediate();
  }

  clearDrift(node: string): void {
    this.st.deleteDrift.run(node);
  }

  drift(): NodeDrift[] {
    type Row = { node: string; eg: number | null; eh: string | null; fg: number | null; fh: string | null; detail: string; detectedAt: string };
    return (this.st.listDrift.all() as Row[]).map((r) => ({ node: r.node, expected: { generation: r.eg, hash: r.eh }, found: { generation: r.fg, hash: r.fh }, detail: r.detail, detectedAt: r.detectedAt }));
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
