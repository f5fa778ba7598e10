// A data move in progress, one JSON file per app and addon in <stateDir>/data-moves/ (<app>.json
// for PostgreSQL, <app>.redis.json for Redis), written before the app pauses and removed once it
// serves again. An apply killed halfway (SIGKILL, a power cut)
// leaves it behind: the next apply finds it and finishes the move (the app stayed paused, so
// nothing was written since) or, when the spec put the data back, resumes on the old node.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFiles } from './backup-record.js';
import type { BackupAddon } from '../../fleet/node/backup.js';

export type MovePhase = 'paused' | 'restored';

export interface MoveJournal {
  app: string;
  addon: BackupAddon;
  from: string;
  to: string;
  phase: MovePhase;
  startedAt: string;
  updatedAt: string;
}

const dirOf = (stateDir: string) => join(stateDir, 'data-moves');
const fileOf = (stateDir: string, app: string, addon: BackupAddon) => join(dirOf(stateDir), addon === 'postgres' ? `${app}.json` : `${app}.${addon}.json`);

export function readMoveJournals(stateDir: string): MoveJournal[] {
  return readJsonFiles<MoveJournal>(dirOf(stateDir));
}

/** Records the move's phase (write-then-rename: a reader never sees half a file). */
export function writeMoveJournal(stateDir: string, move: Omit<MoveJournal, 'updatedAt' | 'startedAt'> & { startedAt?: string }, now = new Date()): MoveJournal {
  const entry: MoveJournal = { ...move, startedAt: move.startedAt ?? now.toISOString(), updatedAt: now.toISOString() };
  mkdirSync(dirOf(stateDir), { recursive: true });
  const file = fileOf(stateDir, move.app, move.addon);
  writeFileSync(`${file}.tmp`, JSON.stringify(entry, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
  return entry;
}

export function removeMoveJournal(stateDir: string, app: string, addon: BackupAddon = 'postgres'): void {
  rmSync(fileOf(stateDir, app, addon), { force: true });
}
