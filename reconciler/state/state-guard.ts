// The state store must not start over by accident: a missing or empty state.sqlite in a state
// directory that was used before (applied records, the local driver's nodes, a reconciler's view,
// a verified copy) means the database was lost, and a fresh one would forget quarantined
// revisions, the run history and its ids. Such a start is refused, naming what was found and
// how to go on; a damaged file is named, with the copy to restore.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StateDamagedError } from '../../common/errors.js';
import { backupPaths, readBackupInfo } from './backup-files.js';

/** What in `stateDir` shows that skyrec used it before (empty: nothing, a first start). */
export function findEarlierUse(stateDir: string): string[] {
  const found: string[] = [];
  const count = (sub: string, keep: (name: string) => boolean = () => true): number => {
    try {
      return readdirSync(join(stateDir, sub)).filter(keep).length;
    } catch {
      return 0;
    }
  };
  const applied = count('applied', (n) => n.endsWith('.json'));
  if (applied > 0) found.push(`${applied} applied record${applied === 1 ? '' : 's'} (applied/)`);
  const local = count('local');
  if (local > 0) found.push(`the local driver's nodes (local/, ${local} entr${local === 1 ? 'y' : 'ies'})`);
  if (existsSync(join(stateDir, 'reconciler.json'))) found.push('a reconciler that ran here (reconciler.json)');
  if (existsSync(join(stateDir, 'repo'))) found.push('a fetched config repo (repo/)');
  if (existsSync(backupPaths(stateDir).db)) found.push(`a verified copy of the database (${backupPaths(stateDir).db})`);
  return found;
}

/** What to tell a person whose database is gone or damaged: restore the copy if there is one. */
function restoreHint(stateDir: string, startOver: string): string {
  const info = readBackupInfo(stateDir);
  if (info) return `restore the verified copy taken ${info.at} (run ${info.lastRunId ?? 'none'}): skyrec state restore --state ${stateDir}`;
  return `there is no verified copy in ${backupPaths(stateDir).dir}; ${startOver}`;
}

/** Throws when `dbPath` is missing or holds no schema although `stateDir` was used before. */
export function refuseSilentReset(stateDir: string, dbPath: string, state: 'missing' | 'empty'): void {
  const found = findEarlierUse(stateDir);
  if (found.length === 0) return;
  throw new StateDamagedError(`${dbPath} is ${state}, but ${stateDir} was used before: found ${found.join(', ')}. Starting over would forget quarantined revisions and the run history`, {
    hint: restoreHint(stateDir, `to start over on purpose, move ${stateDir} away (the nodes keep running; the next apply switches every node again)`),
  });
}

/** A damaged database file, named, with the copy to restore. */
export function damagedStore(stateDir: string, dbPath: string, cause: unknown): StateDamagedError {
  return new StateDamagedError(`${dbPath} is damaged: ${(cause as Error).message}`, {
    hint: restoreHint(stateDir, `move ${dbPath} away to start over`),
    cause,
  });
}

/** SQLite's own words for a file that is not a sound database. */
const DAMAGED = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_INDEX']);
export const isDamage = (err: unknown): boolean => DAMAGED.has((err as { code?: string }).code ?? '');

/** Whether the database file exists with some content (a file of 0 bytes counts as empty). */
export function dbFileState(dbPath: string): 'missing' | 'empty' | 'present' {
  try {
    return statSync(dbPath).size === 0 ? 'empty' : 'present';
  } catch {
    return 'missing';
  }
}
