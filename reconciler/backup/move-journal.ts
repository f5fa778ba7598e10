// A data move in progress, one JSON file per app in <stateDir>/data-moves/, written before the
// app pauses and removed once it serves again. An apply killed halfway (SIGKILL, a power cut)
// leaves it behind: the next apply finds it and finishes the move (the app stayed paused, so
// nothing was written since) or, when the spec put the data back, resumes on the old node.
import { journalDir } from './journal-dir.js';

export type MovePhase = 'paused' | 'restored';

export interface MoveJournal {
  app: string;
  addon: 'postgres';
  from: string;
  to: string;
  phase: MovePhase;
  startedAt: string;
  updatedAt: string;
}

const journals = journalDir<MoveJournal>('data-moves');

export const readMoveJournals = journals.read;
/** Records the move's phase (write-then-rename: a reader never sees half a file). */
export const writeMoveJournal = journals.write;
export const removeMoveJournal = journals.remove;
