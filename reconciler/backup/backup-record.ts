// What skyrec knows of each addon's backups between commands: the last success and failure of a
// backup (or verify), consecutive failures, and the restorable window, one JSON file per app and
// addon in <stateDir>/backups/. `skyrec status`, the status page and /metrics read it: a backup
// that fails, or stops happening, is loud.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BackupRecord {
  app: string;
  addon: string;
  node: string;
  /** Seconds between scheduled backups: older than twice this, the last success is stale. */
  scheduleSeconds: number;
  lastSuccess: string | null;
  lastFailure: string | null;
  /** Since the last success. */
  failures: number;
  /** Ever, for the counter in /metrics. */
  failuresTotal: number;
  lastError: string | null;
  window: { earliest: string | null; latest: string | null } | null;
  lastVerify: { at: string; ok: boolean; rows?: Record<string, number> } | null;
  /** The latest backup, verify or restore of the addon, whatever its outcome (absent: recorded before it existed). */
  lastEvent?: BackupEventRecord | null;
}

export interface BackupEventRecord {
  kind: 'backup' | 'verify' | 'restore';
  ok: boolean;
  at: string;
  error?: string;
}

const dirOf = (stateDir: string) => join(stateDir, 'backups');
const fileOf = (stateDir: string, app: string, addon: string) => join(dirOf(stateDir), `${app}.${addon}.json`);

export function readBackupRecords(stateDir: string): BackupRecord[] {
  return readJsonFiles<BackupRecord>(dirOf(stateDir));
}

/** Every *.json file of a directory, parsed, by name; unreadable ones left out (none when the directory is missing). */
export function readJsonFiles<T>(dir: string): T[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return names.flatMap((f) => {
    try {
      return [JSON.parse(readFileSync(join(dir, f), 'utf8')) as T];
    } catch {
      return [];
    }
  });
}

export type BackupEvent =
  | { kind: 'backup'; ok: true; window: BackupRecord['window'] }
  | { kind: 'backup'; ok: false; error: string }
  | { kind: 'verify'; ok: boolean; rows?: Record<string, number>; error?: string }
  | { kind: 'restore'; ok: boolean; error?: string };

/**
 * Records one backup, verify or restore outcome (write-then-rename: a reader never sees half a
 * file). A failed backup or verify counts as a failure until the next successful backup; a
 * restore only becomes the latest event.
 */
export function recordBackup(stateDir: string, key: { app: string; addon: string; node: string; scheduleSeconds: number }, event: BackupEvent, now = new Date()): BackupRecord {
  const at = now.toISOString();
  const file = fileOf(stateDir, key.app, key.addon);
  let rec: BackupRecord;
  try {
    rec = { ...(JSON.parse(readFileSync(file, 'utf8')) as BackupRecord), ...key };
  } catch {
    rec = { ...key, lastSuccess: null, lastFailure: null, failures: 0, failuresTotal: 0, lastError: null, window: null, lastVerify: null };
  }
  const error = 'error' in event ? event.error : undefined;
  rec.lastEvent = { kind: event.kind, ok: event.ok, at, ...(error ? { error } : {}) };
  if (event.kind === 'verify') rec.lastVerify = { at, ok: event.ok, ...(event.rows ? { rows: event.rows } : {}) };
  if (event.ok && event.kind === 'backup') Object.assign(rec, { lastSuccess: at, failures: 0, lastError: null, window: event.window });
  if (!event.ok && event.kind !== 'restore') Object.assign(rec, { lastFailure: at, failures: rec.failures + 1, failuresTotal: rec.failuresTotal + 1, lastError: error ?? null });
  mkdirSync(dirOf(stateDir), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n');
  renameSync(tmp, file);
  return rec;
}

/** Seconds since the last success (null: never), and whether that is older than twice the schedule. */
export function backupAge(rec: BackupRecord, now = Date.now()): { ageSeconds: number | null; stale: boolean } {
  if (rec.lastSuccess === null) return { ageSeconds: null, stale: true };
  const ageSeconds = Math.max(0, Math.round((now - Date.parse(rec.lastSuccess)) / 1000));
  return { ageSeconds, stale: ageSeconds > 2 * rec.scheduleSeconds };
}

const human = (s: number) => (s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`);

/**
 * A record as status shows it: `failing` when a backup or verify failed since the last success,
 * or the latest event (a restore too) failed; `stale` when the last success is older than twice
 * the schedule (or there is none); `ok` otherwise.
 */
export interface BackupView extends BackupRecord {
  ageSeconds: number | null;
  stale: boolean;
  state: 'ok' | 'stale' | 'failing';
}

export function viewBackup(rec: BackupRecord, now = Date.now()): BackupView {
  const { ageSeconds, stale } = backupAge(rec, now);
  const failing = rec.failures > 0 || rec.lastEvent?.ok === false;
  return { ...rec, lastEvent: rec.lastEvent ?? null, ageSeconds, stale, state: failing ? 'failing' : stale ? 'stale' : 'ok' };
}

/** "restore failed 5m ago: <error>", for a latest event that failed; null otherwise. */
export function describeFailedEvent(e: BackupEventRecord | null | undefined, now = Date.now()): string | null {
  if (!e || e.ok) return null;
  return `${e.kind} failed ${human(Math.max(0, Math.round((now - Date.parse(e.at)) / 1000)))} ago${e.error ? `: ${e.error}` : ''}`;
}

/** `skyrec status` lines, red (when colour) for a stale or failing backup. */
export function formatBackupLines(records: BackupRecord[], colour: boolean, now = Date.now()): string[] {
  return records.map((r) => {
    const v = viewBackup(r, now);
    const age = v.ageSeconds === null ? 'never backed up' : `last backup ${human(v.ageSeconds)} ago`;
    const window = r.window?.earliest ? `, restorable ${r.window.earliest} to ${r.window.latest}` : '';
    const failing = r.failures > 0 ? `; ${r.failures} failure(s) since, last: ${r.lastError ?? 'unknown'}` : '';
    const event = describeFailedEvent(r.lastEvent, now);
    const latest = event && (r.failures === 0 || r.lastEvent?.kind === 'restore') ? `; latest: ${event}` : '';
    const mark = v.state === 'failing' ? 'FAILING' : v.state === 'stale' ? 'STALE' : 'ok';
    const line = `backup ${`${r.app}/${r.addon}`.padEnd(20)} ${mark.padEnd(7)} ${age}${window}${failing}${latest}`;
    return v.state !== 'ok' && colour ? `\x1b[31m${line}\x1b[0m` : line;
  });
}
