// Which sudo flag the nixos-rebuild on this machine takes. Two programs answer to that name:
// - nixos-rebuild-ng (Python): `--sudo`; `--use-remote-sudo` is kept as a deprecated alias that
//   warns. Its parser is argparse with allow_abbrev=False, so an unknown option exits 2
//   (nixpkgs pkgs/by-name/ni/nixos-rebuild-ng/src/nixos_rebuild/__init__.py, NixOS/nixpkgs
//   0051a3dc9a83a1436aed830645f75eefeab52be1). It is the only one in NixOS 26.05: "The Bash
//   implementation of the `nixos-rebuild` program is removed" (rl-2605 release notes, read at
//   flyingcircusio/nixpkgs 26fd2835de8cf7c51f55a887fe6fcd2827a1fa47).
// - the Bash script of NixOS 25.05 and older: `--use-remote-sudo` only; any other option prints
//   "$0: unknown option `…'" and exits 1 (pkgs/os-specific/linux/nixos-rebuild/nixos-rebuild.sh,
//   NixOS/nixpkgs 00409d13552d9b82d366c50bdd1cb4eae48132c7).
// skyrec may run on a machine older than the nodes' release, so it asks the program: the Bash
// script reads its options left to right and rejects `--sudo` before anything else; ng takes
// `--sudo --help` and shows its help (or man page). Neither builds or touches a node.
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { CommandError } from '../../../common/errors.js';

export type SudoFlag = '--sudo' | '--use-remote-sudo';

export function buildSudoProbeArgv(nixosRebuild: string): string[] {
  return [nixosRebuild, '--sudo', '--help'];
}

/** The flag to use, from the probe's failure (null: the probe succeeded). */
export function sudoFlagFromProbe(failure: { stderr: string } | null): SudoFlag {
  if (failure === null) return '--sudo';
  // Bash: "unknown option `--sudo'"; an argparse parser without --sudo: "unrecognized arguments: --sudo".
  return /(unknown option|unrecognized arguments?)\W[^\n]*--sudo\b/.test(failure.stderr) ? '--use-remote-sudo' : '--sudo';
}

export async function detectSudoFlag(exec: Exec, nixosRebuild: string, opts: { timeoutMs: number; log?: Logger }): Promise<SudoFlag> {
  try {
    await exec(buildSudoProbeArgv(nixosRebuild), { timeout: opts.timeoutMs, log: opts.log, env: { MANPAGER: 'cat', PAGER: 'cat' } });
    return '--sudo';
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    const flag = sudoFlagFromProbe(e);
    opts.log?.debug({ nixosRebuild, flag }, 'nixos-rebuild sudo flag');
    return flag;
  }
}
