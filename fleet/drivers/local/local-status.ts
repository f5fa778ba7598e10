// `skyrec ps` on the local driver: each unit's state from its pid file and Linux's /proc. Memory
// and CPU are summed over the instance's process group (its `sh -c` and what that runs), as
// systemd's MemoryCurrent and CPUUsageNSec cover every process of a unit's cgroup.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { UnitStatus } from '../../node/operate.js';
import { isExited, procStat } from '../../../common/proc.js';
import { readJson, type NodeLayout } from './local-layout.js';
import { isRecordAlive, readPidFile } from './local-process.js';
import { pidFileOf, resultFileOf } from './local-units.js';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux architecture skyrec runs on). */
const TICKS = 100;

interface ProcFigures {
  rssBytes: number;
  cpuTicks: number;
}

/** VmRSS (status) and utime + stime (stat) of one process, null when it is gone. */
export function procFigures(pid: number): ProcFigures | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    return { rssBytes: rss ? Number(rss[1]) * 1024 : 0, cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

// `skyrec ps` asks every node at once: one pass over /proc serves them all.
let snapshot: { at: number; groups: Map<number, number[]> } | null = null;
const SNAPSHOT_MS = 500;

/** Live processes by process group, from one pass over /proc (reused for half a second). */
function processGroups(): Map<number, number[]> {
  if (snapshot && Date.now() - snapshot.at < SNAPSHOT_MS) return snapshot.groups;
  const groups = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = procStat(Number(e));
    if (s === null || isExited(s)) continue;
    const members = groups.get(s.pgrp) ?? [];
    members.push(Number(e));
    groups.set(s.pgrp, members);
  }
  snapshot = { at: Date.now(), groups };
  return groups;
}

/** When this machine booted, in ms since the epoch (/proc/stat's btime). */
function bootTimeMs(): number {
  const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) * 1000 : 0;
}

/** Each unit's state from its pid file and /proc (release: its last result file). */
export function localUnitStatus(layout: NodeLayout, units: string[]): UnitStatus[] {
  const boot = bootTimeMs();
  let groups: Map<number, number[]> | null = null;
  // Patterns name cron units, which the local driver does not run.
  return units.filter((u) => !u.includes('*')).map((unit) => {
    const result = readJson<{ result: string; at: string }>(resultFileOf(layout, unit));
    const none: UnitStatus = { unit, state: 'inactive', since: result?.at ?? null, restarts: 0, memoryBytes: null, cpuSeconds: null, ...(result ? { result: result.result } : {}) };
    const pidFile = pidFileOf(layout, unit);
    if (!existsSync(pidFile)) return none;
    const rec = readPidFile(pidFile);
    // A pid file whose process is gone: it ended without skyrec stopping it (a crash, a kill).
    if (!isRecordAlive(rec)) return { ...none, state: 'failed', since: null };
    let rss = 0;
    let ticks = 0;
    groups ??= processGroups();
    for (const pid of groups.get(rec.pid) ?? [rec.pid]) {
      const f = procFigures(pid);
      if (f) {
        rss += f.rssBytes;
        ticks += f.cpuTicks;
      }
    }
    return { unit, state: 'active', since: new Date(boot + (Number(rec.start) / TICKS) * 1000).toISOString(), restarts: 0, memoryBytes: rss, cpuSeconds: ticks / TICKS };
  });
}
