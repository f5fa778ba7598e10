// Day 2 on a NixOS node over ssh: journald's lines of an app's units (`journalctl -o json`), their
// state (`systemctl show`), and the values of their credentials to mask in those lines. Pure
// argv builders and parsers, and the streaming read; driver-nixos.ts runs them over its ssh.
import type { Node } from '../../../schema/model.js';
import { execLines } from '../../../common/exec.js';
import { CommandError, NodeUnreachableError } from '../../../common/errors.js';
import type { Logger } from '../../../common/log.js';
import { unitPattern, type LogEntry, type LogQuery, type LogSink, type UnitStatus } from '../../node/operate.js';

/** The node's programs and paths these use. Only tests change them (stand-in scripts and folders). */
export interface OperateCommands {
  journalctl: string;
  systemctl: string;
  /** Where systemd puts each running unit's LoadCredential= files: <dir>/<unit>.service/<NAME>. */
  credentialsDir: string;
  /** `skyrec run` (nixos-run.ts): systemd-run, and the folder of the rendered skyrec/run/<app>/ files. */
  systemdRun: string;
  etcDir: string;
}

export const REAL_OPERATE: OperateCommands = { journalctl: 'journalctl', systemctl: 'systemctl', credentialsDir: '/run/credentials', systemdRun: 'systemd-run', etcDir: '/etc' };

// journald and systemd's own units are root's to read; `-n`: no password prompt without a tty.
const asRoot = (node: Node, argv: string[]) => (node.sudo ? ['sudo', '-n', ...argv] : argv);
const service = (unit: string) => `${unit}.service`;

/** Following reads the past first (ending with its cursor), then what comes after that cursor. */
export type JournalPhase = { kind: 'past' } | { kind: 'follow'; cursor: string | null; sinceMs: number };

/**
 * `journalctl -o json` of the units, oldest first. Times go as whole epoch seconds (`@N`, which
 * systemd.time(7) accepts), widened to cover the query; the exact cut is made on this side.
 * A follow goes on from the past's last entry (`--after-cursor`), so no line is lost or shown
 * twice between the two; with no entry yet, from the time the past was read.
 */
export function buildJournalArgv(node: Node, q: LogQuery, ops: OperateCommands, phase: JournalPhase = { kind: 'past' }): string[] {
  const argv = [ops.journalctl, '-o', 'json', '--no-pager', ...q.units.flatMap((u) => ['-u', service(u)])];
  if (phase.kind === 'follow') {
    argv.push(phase.cursor !== null ? `--after-cursor=${phase.cursor}` : `--since=@${Math.floor(Math.max(phase.sinceMs, q.since ?? 0) / 1000)}`, '--lines=all', '--follow');
    return asRoot(node, argv);
  }
  if (q.since !== undefined) argv.push(`--since=@${Math.floor(q.since / 1000)}`);
  if (q.until !== undefined) argv.push(`--until=@${Math.ceil(q.until / 1000)}`);
  if (q.lines !== undefined) argv.push(`--lines=${q.lines}`);
  if (q.follow) argv.push('--show-cursor');
  return asRoot(node, argv);
}

const CURSOR = /^-- cursor: (.+)$/;

/** One line of `journalctl -o json`, or null for a line that is not an entry of a unit. */
export function parseJournalLine(line: string): LogEntry | null {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  // The unit's own output has _SYSTEMD_UNIT; systemd's lines about it (Started, Stopping) have UNIT.
  const unit = [rec._SYSTEMD_UNIT, rec.UNIT].find((u): u is string => typeof u === 'string');
  const usec = Number(rec.__REALTIME_TIMESTAMP);
  if (unit === undefined || !Number.isFinite(usec)) return null;
  // MESSAGE is an array of bytes when it is not valid UTF-8 (or holds control characters).
  const m = rec.MESSAGE;
  const text = typeof m === 'string' ? m : Array.isArray(m) ? Buffer.from(m as number[]).toString('utf8') : '';
  return { unit: unit.replace(/\.service$/, ''), time: Math.floor(usec / 1000), text };
}

export interface JournalRead {
  node: Node;
  query: LogQuery;
  sink: LogSink;
  signal?: AbortSignal;
  /** The ssh argv that runs `remote` on the node. */
  sshArgv: (remote: string[]) => string[];
  ops: OperateCommands;
  log?: Logger;
}

/** Streams the node's journal lines over ssh: one call, or two when following (the past, then the rest). */
export async function readJournal(r: JournalRead): Promise<void> {
  const { query: q } = r;
  const within = (e: LogEntry) => (q.since === undefined || e.time >= q.since) && (q.until === undefined || e.time <= q.until);
  const started = Date.now();
  let cursor: string | null = null;
  await runJournal(r, buildJournalArgv(r.node, q, r.ops), (line) => {
    const c = CURSOR.exec(line);
    if (c) return void (cursor = c[1]);
    const e = parseJournalLine(line);
    if (e && within(e)) r.sink.entry(e);
  });
  if (!q.follow || r.signal?.aborted) return;
  r.sink.caughtUp?.();
  await runJournal(r, buildJournalArgv(r.node, q, r.ops, { kind: 'follow', cursor, sinceMs: started }), (line) => {
    const e = parseJournalLine(line);
    if (e && within(e)) r.sink.entry(e);
  });
}

async function runJournal(r: JournalRead, remote: string[], onLine: (line: string) => void): Promise<void> {
  const argv = r.sshArgv(remote);
  try {
    await execLines(argv, { signal: r.signal, log: r.log, onLine });
  } catch (e) {
    if (e instanceof CommandError && e.exitCode_ === 255) throw new NodeUnreachableError(r.node.name, r.node.host, e.stderr.trim().split('\n').at(-1) || 'ssh exited 255', { cause: e });
    throw e;
  }
}

export const SHOW_PROPERTIES = ['Id', 'LoadState', 'ActiveState', 'SubState', 'ActiveEnterTimestamp', 'StateChangeTimestamp', 'NRestarts', 'MemoryCurrent', 'CPUUsageNSec', 'Result'];

/** `systemctl show` of the units, timestamps as `@<epoch seconds>` (systemd 248+). */
export function buildShowArgv(units: string[], ops: OperateCommands): string[] {
  return [ops.systemctl, 'show', '--timestamp=unix', '-p', SHOW_PROPERTIES.join(','), ...units.map(service)];
}

const number = (v: string | undefined): number | null => {
  // Unset figures print as empty, "[not set]", or 2^64-1 (UINT64_MAX).
  if (v === undefined || !/^\d+$/.test(v) || v === '18446744073709551615') return null;
  return Number(v);
};
const timestamp = (v: string | undefined): string | null => {
  const m = /^@(\d+(?:\.\d+)?)$/.exec(v ?? '');
  return m && Number(m[1]) > 0 ? new Date(Number(m[1]) * 1000).toISOString() : null;
};

/**
 * `systemctl show` output (blocks of Key=value, one per unit, blank-line separated) in the order
 * of `units`; a pattern (`shop-cron-*`) gives one status per loaded unit it matches, maybe none.
 */
export function parseShow(units: string[], stdout: string): UnitStatus[] {
  const blocks = stdout.split(/\n\s*\n/).map((b) => Object.fromEntries(b.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) as Record<string, string>);
  const byId = new Map(blocks.filter((b) => b.Id).map((b) => [b.Id.replace(/\.service$/, ''), b]));
  return units.flatMap((unit) => {
    if (unit.includes('*')) {
      const re = unitPattern(unit);
      return [...byId].filter(([id, b]) => re.test(id) && b.LoadState !== 'not-found').sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, b]) => statusOf(id, b));
    }
    const b = byId.get(unit);
    if (!b || b.LoadState === 'not-found') return [{ unit, state: 'unknown', since: null, restarts: null, memoryBytes: null, cpuSeconds: null, result: null }];
    return [statusOf(unit, b)];
  });
}

function statusOf(unit: string, b: Record<string, string>): UnitStatus {
  const active = b.ActiveState === 'active' || b.ActiveState === 'reloading';
  const cpu = number(b.CPUUsageNSec);
  return {
    unit,
    state: b.ActiveState ?? 'unknown',
    since: (active ? timestamp(b.ActiveEnterTimestamp) : null) ?? timestamp(b.StateChangeTimestamp),
    restarts: number(b.NRestarts),
    memoryBytes: active ? number(b.MemoryCurrent) : null,
    cpuSeconds: cpu === null ? null : cpu / 1e9,
    result: b.Result ?? null,
  };
}

/**
 * Prints each existing credential file of `names` for `units`, base64 on one line. Run as root:
 * only root reads /run/credentials, and only while the unit runs.
 */
export function buildCredentialsArgv(node: Node, units: string[], names: string[], ops: OperateCommands): string[] {
  const files = units.flatMap((u) => names.map((n) => `${ops.credentialsDir}/${service(u)}/${n}`));
  return asRoot(node, ['sh', '-c', 'for f; do [ -f "$f" ] && { base64 -w0 < "$f"; echo; }; done; true', 'sh', ...files]);
}

/**
 * The values those lines hold, as the app sees them: the rendered unit scripts read a secret with
 * bash's `$(< file)`, which drops every trailing newline, so a mask must too or it would miss.
 */
export function parseCredentials(stdout: string): string[] {
  const values = stdout.split('\n').filter((l) => l !== '').map((l) => Buffer.from(l, 'base64').toString('utf8').replace(/\n+$/, ''));
  return [...new Set(values)].filter((v) => v !== '');
}
