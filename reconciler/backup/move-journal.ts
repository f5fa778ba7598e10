// A data move in progress, one JSON file per app and addon in <stateDir>/data-moves/ (<app>.json
// for PostgreSQL, <app>.redis.json for Redis), written before the app pauses and removed once it
// serves again. An apply killed halfway (SIGKILL, a power cut)
// leaves it behind: the next apply finds it and finishes the move (the app stayed paused, so
// nothing was written since) or, when the spec put the data back, resumes on the old node.
import { journalDir } from './journal-dir.js';
import type { BackupAddon } from '../../fleet/node/backup.js';

/** 'staging': the new data node is switched to its intermediate generation; the app still serves. */
export type MovePhase = 'staging' | 'paused' | 'restored';

export interface MoveJournal {
  app: string;
  addon: BackupAddon;
  from: string;
  to: string;
  phase: MovePhase;
  startedAt: string;
  updatedAt: string;
}

const keyOf = (app: string, addon: BackupAddon) => (addon === 'postgres' ? app : `${app}.${addon}`);
const journals = journalDir<MoveJournal>('data-moves', (m) => keyOf(m.app, m.addon));

export const readMoveJournals = journals.read;
/** Records the move's phase (write-then-rename: a reader never sees half a file). */
export const writeMoveJournal = journals.write;

export function removeMoveJournal(stateDir: string, app: string, addon: BackupAddon = 'postgres'): void {
  journals.remove(stateDir, keyOf(app, addon));
}

