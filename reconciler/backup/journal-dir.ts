// A work in progress recorded as one JSON file per app in a directory of the state dir (data
// moves, in-place restores): written before the app pauses, removed once it serves again, so a
// command killed halfway leaves it behind for the next apply to finish.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFiles } from './backup-record.js';

export interface Journaled {
  app: string;
  startedAt: string;
  updatedAt: string;
}

/** `key` names an entry's file (<key>.json): by default its app. */
export function journalDir<T extends Journaled>(name: string, key: (entry: Omit<T, 'updatedAt' | 'startedAt'>) => string = (e) => e.app) {
  const dirOf = (stateDir: string) => join(stateDir, name);
  return {
    read: (stateDir: string): T[] => readJsonFiles<T>(dirOf(stateDir)),
    /** Records the entry (write-then-rename: a reader never sees half a file). */
    write(stateDir: string, entry: Omit<T, 'updatedAt' | 'startedAt'> & { startedAt?: string }, now = new Date()): T {
      const full = { ...entry, startedAt: entry.startedAt ?? now.toISOString(), updatedAt: now.toISOString() } as T;
      mkdirSync(dirOf(stateDir), { recursive: true });
      const file = join(dirOf(stateDir), `${key(entry)}.json`);
      writeFileSync(`${file}.tmp`, JSON.stringify(full, null, 2) + '\n');
      renameSync(`${file}.tmp`, file);
      return full;
    },
    remove: (stateDir: string, key: string): void => rmSync(join(dirOf(stateDir), `${key}.json`), { force: true }),
  };
}
