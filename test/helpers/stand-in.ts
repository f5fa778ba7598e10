// Stand-in programs on the test sshd's side (the nixos driver's tests): shell scripts in
// `<dir>/bin` that first append their name and each argument, bracketed, as one line (one write) of
// `<dir>/calls.log`, so that a test can compare the exact argv skyrec sent.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeShellArg } from '../../generators/escape.js';

export interface StandIns {
  /** Writes `<dir>/bin/<name>` running `body` after the record; returns its path. */
  standIn(name: string, body: string): string;
  /** The calls so far, one `name [arg] [arg]` line each. */
  recorded(): string[];
  /** Forgets the calls so far. */
  reset(): void;
}

export function standIns(dir: string): StandIns {
  const calls = join(dir, 'calls.log');
  // The line is built first and appended with one write: two stand-ins run at once (one ssh per
  // node) would otherwise interleave their pieces.
  const record = `line=$(basename "$0"); for a in "$@"; do line="$line [$a]"; done; printf '%s\\n' "$line" >> ${escapeShellArg(calls)}`;
  return {
    standIn(name, body) {
      const path = join(dir, 'bin', name);
      mkdirSync(join(dir, 'bin'), { recursive: true });
      writeFileSync(path, `#!/bin/sh\n${record}\n${body}\n`);
      chmodSync(path, 0o755);
      return path;
    },
    recorded: () => readFileSync(calls, 'utf8').trim().split('\n'),
    reset: () => writeFileSync(calls, ''),
  };
}
