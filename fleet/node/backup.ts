// Backups through the node driver (the optional backup methods of NodeDriver): what `skyrec
// backup`, `backups`, `restore` and `backup verify` ask of the data node, whichever driver runs
// it. The local driver runs pgBackRest, PostgreSQL and restic on this machine; the nixos driver
// starts the units backup.nix renders and runs pgBackRest as their user over ssh.

export type BackupAddon = 'postgres' | 'redis';

export interface BackupInfo {
  id: string;
  kind: 'full' | 'diff' | 'incr';
  /** ISO 8601: when the backup finished (the earliest moment it restores to). */
  time: string;
  /** Bytes of the database it covers, and as stored (compressed, encrypted) in the repository. */
  size: number;
  stored: number;
}

export interface BackupWindow {
  /** ISO times: the earliest and latest moment a restore can reach (null: no backup yet). */
  earliest: string | null;
  latest: string | null;
}

export interface BackupList {
  backups: BackupInfo[];
  window: BackupWindow;
}

export type RestoreTarget = { time: string } | { backup: string } | { latest: true };

/** One addon of one app on its data node. */
export interface BackupRequest {
  app: string;
  addon: BackupAddon;
}

/** An app's database restored from the backups into a scratch cluster beside the live one. */
export interface ScratchRestore {
  /** Row counts per table (schema.table) of the restored database. */
  countRows(): Promise<Record<string, number>>;
  /**
   * Copies the restored database into the live cluster under a temporary name (<into>__restoring):
   * the live database is not touched and the app may go on using it (restore-app.ts does this
   * before the pause, so the pause lasts only for swapIn).
   */
  prepareCopy(into: string): Promise<void>;
  /**
   * Puts the prepared copy in place as `into` by renaming (the app's own database is kept as
   * <app>_before_restore until the next restore); nothing may be connected to `into`.
   */
  swapIn(into: string): Promise<{ kept: string | null }>;
  /** Stops the scratch cluster and removes it. */
  drop(): Promise<void>;
}

interface PgBackRestInfo {
  backup?: { label: string; type: 'full' | 'diff' | 'incr'; timestamp: { start: number; stop: number }; info: { size: number; repository: { delta: number } } }[];
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * `pgbackrest --output=json info` of one stanza, and when WAL last reached the repository (ISO;
 * null: unknown), as the backups and the restorable window. Both drivers run the same pgBackRest.
 */
export function parsePgBackRestInfo(json: string, lastArchived: string | null): BackupList {
  const info = (JSON.parse(json) as PgBackRestInfo[])[0];
  const backups: BackupInfo[] = (info?.backup ?? []).map((b) => ({ id: b.label, kind: b.type, time: iso(b.timestamp.stop), size: b.info.size, stored: b.info.repository.delta }));
  // pgBackRest compares a target with backup stop times in whole seconds: the next second is the first it reaches.
  const earliest = backups[0] ? iso(Date.parse(backups[0].time) / 1000 + 1) : null;
  const latestBackup = backups[backups.length - 1]?.time ?? null;
  const latest = latestBackup === null ? null : lastArchived !== null && lastArchived > latestBackup ? lastArchived : latestBackup;
  return { backups, window: { earliest, latest } };
}

/**
 * The SQL, for psql with the variables app, into, tmp (<into>__restoring) and kept
 * (<app>_before_restore), that makes an empty <tmp> for pg_restore (`make`), and that puts <tmp>
 * in place as <into> (`swap`). Replacing the app's own database, the one replaced is kept; a swap
 * killed between its two renames left no <into> and the replaced database as <kept>, and running
 * it again keeps that one (no <into> to rename, <kept> not dropped).
 */
export function restoreCopySql(replacing: boolean): { make: string; swap: string } {
  const make = [`SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'tmp')\\gexec`, `SELECT format('CREATE DATABASE %I OWNER %I', :'tmp', :'app')\\gexec`].join('\n');
  const swap = [
    ...(replacing
      ? [
          `SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'kept') WHERE EXISTS (SELECT FROM pg_database WHERE datname = :'into')\\gexec`,
          `SELECT format('ALTER DATABASE %I RENAME TO %I', :'into', :'kept') FROM pg_database WHERE datname = :'into'\\gexec`,
        ]
      : [`SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'into')\\gexec`]),
    `SELECT format('ALTER DATABASE %I RENAME TO %I', :'tmp', :'into')\\gexec`,
  ].join('\n');
  return { make, swap };
}
