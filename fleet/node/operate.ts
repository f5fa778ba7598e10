// Day 2 on a node: reading its units' logs, their state now, and the values to mask in logs.
// The types the drivers' readLogs, unitStatus and secretValues methods share (driver.ts), and
// the pure helpers both drivers and `skyrec logs` use.
import type { RunProcess } from '../../generators/render-run-spec.js';

/** Which log lines to read from one node. */
export interface LogQuery {
  /** Unit names without `.service`; `*` matches any characters (cron units: `shop-cron-*`). */
  units: string[];
  /** Milliseconds since the epoch; lines before `since` or after `until` are left out. */
  since?: number;
  until?: number;
  /** The last `lines` lines of the node (before following), all when absent. */
  lines?: number;
  /** Keep reading new lines until `signal` aborts. */
  follow: boolean;
}

/** Where a driver's readLogs delivers: every line, and (following) the moment it has read the past. */
export interface LogSink {
  entry(e: LogEntry): void;
  /** Following: the lines that existed when the read began have all been given; what follows is new. */
  caughtUp?(): void;
}

/** One log line of a unit. */
export interface LogEntry {
  unit: string;
  /** Milliseconds since the epoch. */
  time: number;
  text: string;
}

/** A unit's state now, as `systemctl show` (NixOS) or /proc (local) tells it. */
export interface UnitStatus {
  unit: string;
  /** systemd's ActiveState: active, failed, activating, deactivating, inactive (unknown: no such unit). */
  state: string;
  /** When it entered that state (ISO), null when unknown. */
  since: string | null;
  /** Automatic restarts (systemd's NRestarts); the local driver restarts nothing by itself: 0. */
  restarts: number | null;
  memoryBytes: number | null;
  /** CPU time used since it started, in seconds. */
  cpuSeconds: number | null;
  /** Oneshots (release, cron): the last run's result (success, exit-code, ...), null when not known. */
  result?: string | null;
}

/** An app's units on one node, for reading the values of its secrets there. */
export interface SecretSource {
  app: string;
  /** The secret names the app's processes read (addon passwords included). */
  names: string[];
  units: string[];
}

/** `skyrec run`: a one-off command with the environment, secrets and working directory of `process`. */
export interface RunRequest {
  process: RunProcess;
  argv: string[];
}

/** The user's side of a one-off command: a terminal, or pipes (stdout and stderr kept apart). */
export interface AttachedIo {
  tty: boolean;
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** `*` in a unit pattern as a regular expression over whole names. */
export function unitPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Merges lines of several sources in time order; equal times keep each source's own order. */
export function mergeByTime<T extends { time: number }>(sources: T[][]): T[] {
  return sources
    .flatMap((entries, s) => entries.map((e, i) => ({ e, s, i })))
    .sort((a, b) => a.e.time - b.e.time || a.s - b.s || a.i - b.i)
    .map((x) => x.e);
}

/** Keeps the entries within since/until and, of those, the last `lines`. */
export function selectEntries(entries: LogEntry[], q: Pick<LogQuery, 'since' | 'until' | 'lines'>): LogEntry[] {
  const within = entries.filter((e) => (q.since === undefined || e.time >= q.since) && (q.until === undefined || e.time <= q.until));
  return q.lines === undefined ? within : within.slice(Math.max(0, within.length - q.lines));
}
