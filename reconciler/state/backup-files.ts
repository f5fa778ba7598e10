// Where the verified copy of the state database lives, and what is known about it: taken after
// each run the reconciler records, in <state>/backup/. Beside it, the highest run and rollout
// ids ever handed out, so that a restored copy never hands out an id a second time.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BackupInfo {
  /** When the copy was taken and checked. */
  at: string;
  /** The newest run and rollout in the copy (null: none). */
  lastRunId: number | null;
  lastRolloutId: number | null;
}

/** The highest ids handed out, ever: kept when a run or rollout starts, not only at a copy. */
export interface HighWater {
  run: number;
  rollout: number;
}

/**
 * Creates <state>/backup inside an existing state directory, never the state directory itself: a
 * state directory removed under a running skyrec must stay gone, not come back empty.
 */
export function ensureBackupDir(stateDir: string): void {
  try {
    mkdirSync(backupPaths(stateDir).dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

export function backupPaths(stateDir: string) {
  const dir = join(stateDir, 'backup');
  return { dir, db: join(dir, 'state.sqlite'), info: join(dir, 'state.json'), highWater: join(dir, 'high-water.json') };
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export const readBackupInfo = (stateDir: string): BackupInfo | null => readJson<BackupInfo>(backupPaths(stateDir).info);
export const writeBackupInfo = (stateDir: string, info: BackupInfo): void => writeJson(backupPaths(stateDir).info, info);

export function readHighWater(stateDir: string): HighWater {
  const hw = readJson<Partial<HighWater>>(backupPaths(stateDir).highWater);
  return { run: Number(hw?.run) || 0, rollout: Number(hw?.rollout) || 0 };
}

/** Raises the high-water mark of `kind` to `id` (never lowers it). */
export function raiseHighWater(stateDir: string, kind: keyof HighWater, id: number): void {
  const hw = readHighWater(stateDir);
  if (hw[kind] >= id) return;
  ensureBackupDir(stateDir);
  writeJson(backupPaths(stateDir).highWater, { ...hw, [kind]: id });
}
