// Reading /proc/<pid>/stat: fixture lines as Linux writes them (proc(5)), including the command
// names a process may give itself, which can hold spaces and parentheses.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isExited, parseProcStat, procStat, processesNaming } from '../../common/proc.js';

/** A stat line with the given pid, comm and state; the other fields from a real `cat`'s line. */
const statLine = (pid: number, comm: string, state: string, pgrp = 15251, start = '314113') =>
  `${pid} (${comm}) ${state} 15251 ${pgrp} 5612 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 ${start} 3133440 382 ` +
  '18446744073709551615 94828657782784 94828657802665 140723309091616 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 ' +
  '94828657818672 94828657820288 94828866990080 140723309095445 140723309095465 140723309095465 140723309096939 0\n';

describe('parseProcStat and isExited', () => {
  it('reads state, process group and start time from a running process', () => {
    expect(parseProcStat(statLine(15256, 'cat', 'R', 15251, '314113'))).toEqual({ state: 'R', pgrp: 15251, start: '314113' });
    expect(isExited(parseProcStat(statLine(15256, 'cat', 'R')))).toBe(false);
    expect(isExited(parseProcStat(statLine(15256, 'node', 'S')))).toBe(false);
    expect(isExited(parseProcStat(statLine(15256, 'node', 'D')))).toBe(false);
  });

  it('calls a zombie (Z) and a dead process (X) exited', () => {
    expect(isExited(parseProcStat(statLine(16626, 'true', 'Z')))).toBe(true);
    expect(isExited(parseProcStat(statLine(16626, 'true', 'X')))).toBe(true);
  });

  it.each([
    ['spaces', 'my app worker', 'S', false],
    ['parentheses', '(sd-pam)', 'S', false],
    ['a fake state after a closing parenthesis', 'x) Z 1 (y', 'S', false],
    ['a fake running state, on a zombie', 'a) R 1 1 (b', 'Z', true],
    ['an empty name', '', 'Z', true],
  ])('reads the state past a command name with %s', (_name, comm, state, exited) => {
    const stat = parseProcStat(statLine(4242, comm, state, 777, '99'));
    expect(stat).toEqual({ state, pgrp: 777, start: '99' });
    expect(isExited(stat)).toBe(exited);
  });

  it('reads this very process as running, and a pid that does not exist as null', () => {
    const self = procStat(process.pid);
    expect(self).not.toBeNull();
    expect(isExited(self!)).toBe(false);
    expect(self!.start).toMatch(/^\d+$/);
    expect(procStat(2 ** 22 + 1)).toBeNull(); // above pid_max's ceiling: never a process
  });
});

describe('processesNaming', () => {
  it('finds a live process by a path under the directory in its arguments, as a path or an --option=path, and not one naming a sibling', async () => {
    const dir = `/tmp/skyrec-naming-${process.pid}/scratch-1`;
    const argvs = [[`${dir}/data`], [`--pg1-path=${dir}`], [`${dir}-other/data`]];
    const holders = argvs.map((args) => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '--', ...args], { stdio: 'ignore' }));
    try {
      await Promise.all(holders.map((c) => new Promise((r) => c.once('spawn', r))));
      expect(processesNaming(dir).sort()).toEqual([holders[0].pid, holders[1].pid].sort());
      holders[0].kill('SIGKILL');
      await new Promise((r) => holders[0].once('exit', r));
      expect(processesNaming(dir)).toEqual([holders[1].pid]);
    } finally {
      for (const c of holders) c.kill('SIGKILL');
    }
  });
});
