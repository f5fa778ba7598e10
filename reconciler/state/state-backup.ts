// The verified copy of the state database: taken with SQLite's online backup after each run the
// reconciler records, opened and put through integrity_check before it replaces the previous
// copy, so that <state>/backup/state.sqlite is always a sound database. `skyrec state restore`
// puts it back in place of a lost or damaged one.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../common/errors.js';
import { backupPaths, ensureBackupDir, readBackupInfo, writeBackupInfo, type BackupInfo } from './backup-files.js';
import { acquireLock, acquireReconcilerLock } from './lock.js';
import { StateStore } from './state-store.js';

/** integrity_check of a database file, and its newest run and rollout; throws when it is not sound. */
function verifyCopy(file: string): Pick<BackupInfo, 'lastRunId' | 'lastRolloutId'> {
  const db = new Database(file, { fileMustExist: true });
  try {
    // A copy of a WAL database is marked WAL too: make it one self-contained file (no -wal, -shm beside it).
    db.pragma('journal_mode = DELETE');
    const result = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
    if (result[0] !== 'ok') throw new StateError(`the copy ${file} fails integrity_check: ${result.slice(0, 3).join('; ')}`);
    const max = (table: string) => (db.prepare(`SELECT max(id) AS id FROM ${table}`).get() as { id: number | null }).id;
    return { lastRunId: max('reconcile_runs'), lastRolloutId: max('rollouts') };
  } finally {
    db.close();
  }
}

/** Copies the open store to <state>/backup/state.sqlite, checked before it replaces the last copy. */
export async function backupState(store: StateStore, clock: () => Date = () => new Date()): Promise<BackupInfo> {
  const paths = backupPaths(store.stateDir);
  ensureBackupDir(store.stateDir);
  const tmp = `${paths.db}.${process.pid}.tmp`;
  try {
    await store.copyTo(tmp);
    const info = { at: clock().toISOString(), ...verifyCopy(tmp) };
    renameSync(tmp, paths.db);
    writeBackupInfo(store.stateDir, info);
    return info;
  } finally {
    rmSync(tmp, { force: true });
  }
}

export interface RestoreResult {
  /** The database now in use, and the copy it came from. */
  restored: string;
  from: string;
  copiedAt: string;
  lastRunId: number | null;
  /** Where the files it replaced were moved (empty: there were none). */
  kept: string[];
}

/**
 * Puts the verified copy in place of state.sqlite, keeping what it replaces beside it. Holds the
 * reconciler's and the apply lock meanwhile: nothing else may use the store.
 */
export function restoreState(stateDir: string, clock: () => Date = () => new Date()): RestoreResult {
  const paths = backupPaths(stateDir);
  const info = readBackupInfo(stateDir);
  if (!existsSync(paths.db) || !info) throw new StateError(`there is no copy of the state database in ${paths.dir}`, { hint: 'skyrec reconcile keeps one after each run it records; without it, move the state directory away to start over' });
  const reconciler = acquireReconcilerLock(stateDir, 'skyrec state restore');
  try {
    const apply = acquireLock(stateDir, 'skyrec state restore');
    try {
      verifyCopy(paths.db);
      const db = join(stateDir, 'state.sqlite');
      const stamp = clock().toISOString().replace(/[:.]/g, '-');
      const kept: string[] = [];
      // The -wal and -shm files belong to the file they sat beside: left in place, SQLite would replay them into the copy.
      for (const suffix of ['', '-wal', '-shm']) {
        if (!existsSync(db + suffix)) continue;
        const aside = `${db}.replaced-${stamp}${suffix}`;
        renameSync(db + suffix, aside);
        kept.push(aside);
      }
      copyFileSync(paths.db, `${db}.restoring`);
      renameSync(`${db}.restoring`, db);
      // Opening raises the id sequences above every id handed out since the copy.
      StateStore.open(stateDir).close();
      return { restored: db, from: paths.db, copiedAt: info.at, lastRunId: info.lastRunId, kept };
    } finally {
      apply.release();
    }
  } finally {
    reconciler.release();
  }
}
