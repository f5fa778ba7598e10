// The state store's schema, one migration per version (PRAGMA user_version). Never edit a
// migration that has shipped: add one. Each runs in the transaction that opens the store.
import type Database from 'better-sqlite3';
import { StateError } from '../../common/errors.js';

/** Index i holds the SQL that takes the schema from version i to i + 1 (PRAGMA user_version). */
export const MIGRATIONS = [
  `CREATE TABLE nodes (
     node TEXT PRIMARY KEY, revision TEXT, generation INTEGER, hash TEXT,
     status TEXT NOT NULL CHECK (status IN ('healthy','switching','checking','failed','rolled-back','unknown')),
     detail TEXT, updated_at TEXT NOT NULL);
   CREATE TABLE rollouts (
     id INTEGER PRIMARY KEY AUTOINCREMENT, revision TEXT, driver TEXT NOT NULL, nodes TEXT NOT NULL,
     started_at TEXT NOT NULL, finished_at TEXT,
     outcome TEXT NOT NULL CHECK (outcome IN ('running','succeeded','failed','interrupted','noop')), detail TEXT);
   CREATE INDEX rollouts_running ON rollouts (outcome) WHERE outcome = 'running';
   CREATE TABLE steps (
     id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id INTEGER NOT NULL REFERENCES rollouts (id), node TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('switch','health','rollback','skip','resume')),
     started_at TEXT NOT NULL, finished_at TEXT,
     outcome TEXT NOT NULL CHECK (outcome IN ('running','ok','failed')), detail TEXT, generation INTEGER);
   CREATE INDEX steps_rollout ON steps (rollout_id, id);
   CREATE TABLE failed_revisions (revision TEXT PRIMARY KEY, reason TEXT NOT NULL, at TEXT NOT NULL);`,
  `CREATE TABLE reconcile_runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT, revision TEXT, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('applied','unchanged','invalid','failed','quarantined','error')), detail TEXT);`,
  // 3: a cycle is recorded when it starts (so one cut short by SIGKILL is found as 'running' by
  // the next start and marked 'interrupted'), with the plan of what it applied; drift findings.
  `CREATE TABLE reconcile_runs_3 (
     id INTEGER PRIMARY KEY AUTOINCREMENT, revision TEXT, started_at TEXT NOT NULL, finished_at TEXT,
     outcome TEXT NOT NULL CHECK (outcome IN ('running','applied','unchanged','invalid','failed','quarantined','interrupted','error')),
     detail TEXT, plan TEXT);
   INSERT INTO reconcile_runs_3 (id, revision, started_at, finished_at, outcome, detail)
     SELECT id, revision, started_at, finished_at, outcome, detail FROM reconcile_runs;
   DROP TABLE reconcile_runs;
   ALTER TABLE reconcile_runs_3 RENAME TO reconcile_runs;
   CREATE TABLE drift (
     node TEXT PRIMARY KEY, expected_generation INTEGER, expected_hash TEXT, found_generation INTEGER, found_hash TEXT,
     detail TEXT NOT NULL, detected_at TEXT NOT NULL);`,
  // 4: a cycle can find its head untrusted (--require-signed-by).
  `CREATE TABLE reconcile_runs_4 (
     id INTEGER PRIMARY KEY AUTOINCREMENT, revision TEXT, started_at TEXT NOT NULL, finished_at TEXT,
     outcome TEXT NOT NULL CHECK (outcome IN ('running','applied','unchanged','invalid','failed','quarantined','interrupted','untrusted','error')),
     detail TEXT, plan TEXT);
   INSERT INTO reconcile_runs_4 (id, revision, started_at, finished_at, outcome, detail, plan)
     SELECT id, revision, started_at, finished_at, outcome, detail, plan FROM reconcile_runs;
   DROP TABLE reconcile_runs;
   ALTER TABLE reconcile_runs_4 RENAME TO reconcile_runs;`,
  // 5: the notification queue (reconciler/notify/): one row per event and target, kept until
  // delivered or given up, so that a restart loses nothing undelivered.
  `CREATE TABLE notifications (
     id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, config TEXT NOT NULL, event TEXT NOT NULL,
     created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed','dropped')),
     last_status INTEGER, last_error TEXT, finished_at TEXT);
   CREATE INDEX notifications_pending ON notifications (target, id) WHERE state = 'pending';`,
];

export function migrate(db: Database.Database): void {
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

/** AUTOINCREMENT never reuses an id within one file; after a restored copy, the high-water mark keeps that true. */
export function keepIdsAbove(db: Database.Database, table: string, min: number): void {
  if (min <= 0) return;
  const row = db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined;
  if (!row) db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, min);
  else if (row.seq < min) db.prepare('UPDATE sqlite_sequence SET seq = ? WHERE name = ?').run(min, table);
}

