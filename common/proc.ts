// Processes on this machine, as Linux's /proc tells them: the local driver's pid files, the
// apply lock's holder, and `skyrec status` asking whether the reconciler still runs.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, ... and Z or X for a process that has exited (a zombie not yet reaped). */
  state: string;
  pgrp: number;
  /** Start time in clock ticks since boot: tells a process from a later one with the same pid. */
  start: string;
}

/** /proc/<pid>/stat, or null when there is no such process (or no /proc). */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return parseProcStat(text);
}

/** One /proc/<pid>/stat line, as proc(5) lays it out. */
export function parseProcStat(text: string): ProcStat {
  // comm (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], pgrp: Number(fields[2]), start: fields[19] };
}

export const isExited = (stat: ProcStat): boolean => stat.state === 'Z' || stat.state === 'X';

/**
 * Whether `pid` runs: it answers signal 0 (EPERM: another user's, alive) and is not a zombie. A
 * reused pid reads as alive: the safe side for a lock.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = procStat(pid);
  return stat === null || !isExited(stat);
}

/**
 * Live processes with an argument that names `path` or a path under it (a pgBackRest restore's
 * --pg1-path, a postmaster's -D): what is still writing into a directory an earlier, killed
 * command left behind.
 */
export function processesNaming(path: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const stat = procStat(Number(entry));
    if (stat && !isExited(stat) && argv.some((a) => a === path || a.includes(`${path}/`) || a.endsWith(`=${path}`))) found.push(Number(entry));
  }
  return found;
}
