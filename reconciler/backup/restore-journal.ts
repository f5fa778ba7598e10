// An in-place restore in progress, in <stateDir>/restores/<app>.json, written before the app
// pauses and removed once its instances run again. A `skyrec restore` killed halfway (SIGKILL, a
// power cut) leaves it behind with the app paused: the next apply finds it and finishes the
// restore before it rolls anything out.
import type { RestoreTarget } from '../../fleet/node/backup.js';
import { journalDir } from './journal-dir.js';

/** paused: the live database may not be replaced yet (the restore runs again); copied: it is (the instances and the traffic are left). */
export type RestorePhase = 'paused' | 'copied';

export interface RestoreJournal {
  app: string;
  node: string;
  target: RestoreTarget;
  phase: RestorePhase;
  healthTimeoutMs: number;
  startedAt: string;
  updatedAt: string;
}

export const restoreJournals = journalDir<RestoreJournal>('restores');
