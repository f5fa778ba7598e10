// The notification queue in the state store: one row per event and target, in the order they
// were made. Bounded: beyond MAX_PENDING undelivered rows the oldest are dropped (and counted),
// so a receiver gone for weeks cannot grow the database without end. Finished rows are kept a
// while for the status page, then pruned.
import type Database from 'better-sqlite3';

export type NotifyState = 'pending' | 'delivered' | 'failed' | 'dropped';
export interface QueuedNotification {
  id: number;
  target: string;
  /** The target as configured when the event was made (JSON; secret names, never values). */
  config: string;
  /** The event (JSON). */
  event: string;
  createdAt: string;
  attempts: number;
  nextAt: string;
  state: NotifyState;
  lastStatus: number | null;
  lastError: string | null;
  finishedAt: string | null;
}

export const MAX_PENDING = 1000;
const KEEP_FINISHED = 200;
const COLS = 'id, target, config, event, created_at AS createdAt, attempts, next_at AS nextAt, state, last_status AS lastStatus, last_error AS lastError, finished_at AS finishedAt';

function prepareAll(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p(`INSERT INTO notifications (target, config, event, created_at, next_at, state) VALUES (?, ?, ?, ?, ?, 'pending')`),
    countPending: p(`SELECT count(*) AS n FROM notifications WHERE state = 'pending'`),
    dropOldest: p(`UPDATE notifications SET state = 'dropped', finished_at = ?, last_error = 'dropped: the queue was full' WHERE id IN (SELECT id FROM notifications WHERE state = 'pending' ORDER BY id LIMIT ?) RETURNING target`),
    heads: p(`SELECT ${COLS} FROM notifications WHERE id IN (SELECT min(id) FROM notifications WHERE state = 'pending' GROUP BY target)`),
    get: p(`SELECT ${COLS} FROM notifications WHERE id = ?`),
    retry: p(`UPDATE notifications SET attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ? WHERE id = ? AND state = 'pending'`),
    finish: p(`UPDATE notifications SET attempts = attempts + 1, state = ?, last_status = ?, last_error = ?, finished_at = ? WHERE id = ? AND state = 'pending'`),
    prune: p(`DELETE FROM notifications WHERE state != 'pending' AND id NOT IN (SELECT id FROM notifications WHERE state != 'pending' ORDER BY id DESC LIMIT ${KEEP_FINISHED})`),
    recent: p(`SELECT ${COLS} FROM notifications ORDER BY id DESC LIMIT ?`),
    perTarget: p(`SELECT target, sum(state = 'pending') AS pending, sum(state = 'delivered') AS delivered, sum(state IN ('failed','dropped')) AS failed FROM notifications GROUP BY target ORDER BY target`),
  };
}

export class NotifyRecords {
  private readonly st: ReturnType<typeof prepareAll>;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: () => Date,
  ) {
    this.st = prepareAll(db);
  }

  /** Queues rows in one transaction; returns the targets of rows dropped to stay within the bound. */
  enqueue(rows: { target: string; config: string; event: string }[]): string[] {
    return this.db.transaction(() => {
      const now = this.clock().toISOString();
      for (const r of rows) this.st.insert.run(r.target, r.config, r.event, now, now);
      const over = (this.st.countPending.get() as { n: number }).n - MAX_PENDING;
      const dropped = over > 0 ? (this.st.dropOldest.all(now, over) as { target: string }[]).map((d) => d.target) : [];
      this.st.prune.run();
      return dropped;
    }).immediate();
  }

  /** The oldest undelivered row of each target: a target's events go out in order, one at a time. */
  heads(): QueuedNotification[] {
    return this.st.heads.all() as QueuedNotification[];
  }

  get(id: number): QueuedNotification | null {
    return (this.st.get.get(id) as QueuedNotification | undefined) ?? null;
  }

  /** An attempt failed; try again at `nextAt`. */
  retryAt(id: number, nextAt: Date, status: number | null, error: string): void {
    this.st.retry.run(nextAt.toISOString(), status, error, id);
  }

  /** Delivered, or given up ('failed'). */
  finish(id: number, state: 'delivered' | 'failed', status: number | null, error: string | null): void {
    this.st.finish.run(state, status, error, this.clock().toISOString(), id);
  }

  recent(limit = 20): QueuedNotification[] {
    return this.st.recent.all(limit) as QueuedNotification[];
  }

  perTarget(): { target: string; pending: number; delivered: number; failed: number }[] {
    return this.st.perTarget.all() as { target: string; pending: number; delivered: number; failed: number }[];
  }
}
