// Long-running processes of the local driver (app instances, Redis, Caddy, the rollback
// watchdog) and their pid files. One of the two modules that use node:child_process instead of
// common/exec.ts (the other forks the reconciler's apply child: reconciler/daemon/isolate.ts):
// exec (execa) waits for a command to finish and kills it on timeout,
// while these must outlive skyrec, detached in their own session and process group (systemd's
// job on a real node), so that stopping one signals the whole group and nothing else.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Writable } from 'node:stream';
import { dirname } from 'node:path';
import { LocalDriverError } from '../../../common/errors.js';
import { isExited, procStat } from '../../../common/proc.js';
import { readJson, writeFileAtomic } from './local-layout.js';
import { STAMPER_SCRIPT } from './local-stamp.js';

export interface PidRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: with the pid, names exactly one process since boot. */
  start: string;
  /** What the process was started from (instances: spec and source digest), to tell if it changed. */
  fingerprint?: string;
}

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  /** The complete environment (nothing is inherited implicitly). */
  env: Record<string, string | undefined>;
  /** stdout and stderr are appended here. */
  logFile: string;
  pidFile: string;
  fingerprint?: string;
  /** Written to the process's stdin, which is then closed (a config that must not touch disk). */
  stdin?: string;
  /** Each line of output gets the time in front of it (app instances: see local-stamp.ts). */
  stamp?: boolean;
}

/** Starts a detached process, records its pid file and returns the record. */
export function spawnDetached(req: SpawnRequest): PidRecord {
  if (!existsSync(req.cwd)) throw new LocalDriverError(`cannot start ${req.argv[0]}: working directory ${req.cwd} does not exist`);
  mkdirSync(dirname(req.logFile), { recursive: true });
  const fd = openSync(req.logFile, 'a');
  const stamper = req.stamp ? startStamper(req.logFile, req.cwd) : null;
  try {
    const out = stamper ?? fd;
    const child = spawn(req.argv[0], req.argv.slice(1), { cwd: req.cwd, env: req.env, detached: true, stdio: [req.stdin === undefined ? 'ignore' : 'pipe', out, out] });
    // A failed exec (ENOENT) is reported on 'error'; without a listener it would crash skyrec.
    child.on('error', () => undefined);
    if (req.stdin !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(req.stdin);
      // Once written, the pipe must not keep skyrec's event loop alive.
      child.stdin!.once('finish', () => (child.stdin as unknown as { unref?: () => void }).unref?.());
    }
    child.unref();
    if (child.pid === undefined) throw new LocalDriverError(`cannot start ${req.argv[0]} (see ${req.logFile})`);
    const stat = procStat(child.pid);
    const record: PidRecord = { pid: child.pid, start: stat?.start ?? '', fingerprint: req.fingerprint };
    writeFileAtomic(req.pidFile, JSON.stringify(record) + '\n');
    return record;
  } finally {
    closeSync(fd);
    // skyrec's end of the stamper's pipe: once the app holds it, the stamper ends with the app.
    stamper?.destroy();
  }
}

/** Starts a stamper (local-stamp.ts) appending to `logFile`; returns the pipe to give the app as stdout and stderr. */
function startStamper(logFile: string, cwd: string): Writable {
  const env = { PATH: process.env.PATH, TZ: 'UTC', LC_ALL: 'C' };
  const child = spawn('bash', ['-c', STAMPER_SCRIPT, 'skyrec-stamper', logFile], { cwd, env, detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => undefined);
  child.unref();
  return child.stdin!;
}

export function readPidFile(pidFile: string): PidRecord | null {
  return readJson<PidRecord>(pidFile);
}

/** Alive: the very process recorded (same start time) exists and is not a zombie. */
export function isRecordAlive(rec: PidRecord | null): rec is PidRecord {
  if (!rec) return false;
  const stat = procStat(rec.pid);
  return stat !== null && stat.start === rec.start && !isExited(stat);
}

export function isPidFileAlive(pidFile: string): boolean {
  return isRecordAlive(readPidFile(pidFile));
}

/** Live (non-zombie) members of a process group. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.pgrp === pgid && !isExited(stat)) members.push(Number(entry));
  }
  return members;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it holds (true) or `ms` has passed (its last answer). */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

function waitGone(pgid: number, ms: number): Promise<boolean> {
  return waitFor(() => groupMembers(pgid).length === 0, ms);
}

/**
 * Stops what a pid file names, like systemd's stop: SIGTERM to the process group, up to
 * `graceMs` for it to exit, then SIGKILL. The group is signalled only if its leader is still the
 * recorded process or the group still has members (its id cannot be reused while it has any),
 * so a recycled pid is never signalled. Removes the pid file.
 */
export async function stopPidFile(pidFile: string, graceMs = 10_000): Promise<void> {
  const rec = readPidFile(pidFile);
  if (rec) {
    const leader = procStat(rec.pid);
    const ours = leader ? leader.start === rec.start : groupMembers(rec.pid).length > 0;
    if (ours) {
      signalGroup(rec.pid, 'SIGTERM');
      if (!(await waitGone(rec.pid, graceMs))) {
        signalGroup(rec.pid, 'SIGKILL');
        await waitGone(rec.pid, 2000);
      }
    }
  }
  rmSync(pidFile, { force: true });
}

/**
 * Waits until something listens on 127.0.0.1:`port`, at most `ms`; false also as soon as
 * `alive` says the process that should listen has exited (a program that fails at start is not
 * waited for to the end).
 */
export async function waitForTcp(port: number, ms: number, alive: () => boolean = () => true): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until && alive()) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => (socket.destroy(), resolve(false)));
    });
    if (ok) return true;
    await sleep(100);
  }
  return false;
}

/** The last `lines` lines of a log file ('' when there is none). */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
