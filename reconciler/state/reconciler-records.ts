// What the reconciler records beside the rollouts, in the state store's database: its cycles
// (from their start, so one cut short by a kill is found by the next start; each applying
// cycle with its plan) and the drift found by the last check.
import type Database from 'better-sqlite3';
import { StateError } from '../../common/errors.js';

/** untrusted: --require-signed-by, and the head is not signed by an allowed key (not applied). */
export type RunOutcome = 'applied' | 'unchanged' | 'invalid' | 'failed' | 'quarantined' | 'interrupted' | 'untrusted' | 'error';
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

const RUN_COLS = 'id, revision, started_at AS startedAt, finished_at AS finishedAt, outcome, detail, plan IS NOT NULL AS hasPlan';
type RunRow = Omit<RunRecord, 'hasPlan'> & { hasPlan: number };
const toRun = (r: RunRow): RunRecord => ({ ...r, hasPlan: r.hasPlan === 1 });
/** Outcomes that a cycle finds again and again while nothing changes: recorded once, then only "seen again". */
const REPEATING: RunOutcome[] = ['unchanged', 'quarantined', 'invalid', 'untrusted'];

function prepareAll(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
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
    clearDrift: p(`DELETE FROM drift`),
    deleteDrift: p(`DELETE FROM drift WHERE node = ?`),
    insertDrift: p(`INSERT INTO drift (node, expected_generation, expected_hash, found_generation, found_hash, detail, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    listDrift: p(`SELECT node, expected_generation AS eg, expected_hash AS eh, found_generation AS fg, found_hash AS fh, detail, detected_at AS detectedAt FROM drift ORDER BY node`),
  };
}

export class ReconcilerRecords {
  private readonly st: ReturnType<typeof prepareAll>;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
    /** Told every new run's id (the high-water mark kept beside the database's copy). */
    private readonly onStarted: (id: number) => void = () => {},
  ) {
    this.st = prepareAll(db);
  }

  /** A cycle begins: recorded at once, so a cycle cut short by a kill is found by the next start. */
  startRun(): number {
    const id = Number(this.st.startRun.run(this.now()).lastInsertRowid);
    this.onStarted(id);
    return id;
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
}
