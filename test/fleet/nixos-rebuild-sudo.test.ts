// The sudo flag skyrec passes must be one the nixos-rebuild it runs accepts. Two stand-ins, each
// modelling the option parser of one real nixos-rebuild as read from its source, and each exiting
// non-zero on an unknown option as the real one does:
// - nixos-rebuild-ng-standin: nixpkgs pkgs/by-name/ni/nixos-rebuild-ng/src/nixos_rebuild/__init__.py
//   (NixOS/nixpkgs 0051a3dc9a83a1436aed830645f75eefeab52be1): argparse, allow_abbrev=False; --sudo;
//   --use-remote-sudo accepted with "warning: --use-remote-sudo deprecated, use --sudo instead";
//   --help (its own store_true) shows help; unknown arguments: usage + "error: unrecognized
//   arguments: …", exit 2, after the whole command line is parsed.
// - nixos-rebuild-bash-standin: pkgs/os-specific/linux/nixos-rebuild/nixos-rebuild.sh (NixOS/nixpkgs
//   00409d13552d9b82d366c50bdd1cb4eae48132c7): options read left to right; --use-remote-sudo only;
//   `*) log "$0: unknown option \`$i'"; exit 1`; --help execs man.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, type Exec } from '../../common/exec.js';
import { CommandError } from '../../common/errors.js';
import { buildSwitchArgv, createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { detectSudoFlag, sudoFlagFromProbe } from '../../fleet/drivers/nixos/nixos-rebuild-sudo.js';
import type { NodeTarget } from '../../fleet/node/driver.js';
import { escapeShellArg } from '../../generators/escape.js';
import { makeTempDir } from '../helpers/tools.js';
import { makeNode } from './builders.js';

const tmp = makeTempDir('skyrec-nixos-rebuild-sudo-');
const log = join(tmp.dir, 'calls.log');
const ng = join(tmp.dir, 'nixos-rebuild-ng-standin');
const bash = join(tmp.dir, 'nixos-rebuild-bash-standin');
const ACTIONS = 'switch|boot|test|build|dry-build|dry-run|dry-activate|build-vm|edit|repl|list-generations';
const VALUED = '--flake|--target-host|--build-host|--profile-name|-p|--specialisation|-c|--max-jobs|-j|--cores|--option';
const FLAGS = '--fast|--no-update-lock-file|--no-write-lock-file|--recreate-lock-file|--refresh|--impure|--offline|--show-trace|--print-build-logs|-L|--verbose|-v|--rollback|--install-bootloader';

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\nLOG=${escapeShellArg(log)}\n${body}\n`);
  chmodSync(path, 0o755);
}

beforeAll(() => {
  writeFileSync(log, '');
  script(ng, `prog=nixos-rebuild; sudo=0; help=0; action=; unknown=
while [ $# -gt 0 ]; do
  case "$1" in
    ${ACTIONS}) action=$1;;
    ${VALUED}) shift;;
    ${FLAGS}) ;;
    --sudo|--ask-sudo-password) sudo=1;;
    --use-remote-sudo) sudo=1; warn_remote=1;;
    --help|-h) help=1;;
    *) unknown="\${unknown:+$unknown }$1";;
  esac
  shift
done
if [ -n "$unknown" ]; then
  echo "usage: $prog [--verbose] [--flake [FLAKE]] [--sudo] [--use-remote-sudo] [--target-host TARGET_HOST] ..." >&2
  echo "$prog: error: unrecognized arguments: $unknown" >&2; exit 2
fi
if [ $help = 1 ] || [ -z "$action" ]; then echo "usage: $prog [--verbose] [--flake [FLAKE]] [--ask-sudo-password] [--sudo] [--use-remote-sudo] ..."; exit 0; fi
[ -n "$warn_remote" ] && echo "$prog: warning: --use-remote-sudo deprecated, use --sudo instead" >&2
echo "ng $action sudo=$sudo" >> "$LOG"`);
  script(bash, `remoteSudo=0; action=
while [ "$#" -gt 0 ]; do
  i="$1"; shift 1
  case "$i" in
    --help) exec man nixos-rebuild;;
    ${ACTIONS}) action=$i;;
    ${VALUED}) shift 1;;
    ${FLAGS}) ;;
    --use-remote-sudo) remoteSudo=1;;
    *) echo "$0: unknown option \\\`$i'" >&2; exit 1;;
  esac
done
[ -n "$action" ] || exec man nixos-rebuild
echo "bash $action sudo=$remoteSudo" >> "$LOG"`);
});
afterAll(() => tmp.cleanup());

const sudoNode = () => makeNode('web1', { host: 'deploy@10.0.0.11', sudo: 'sudo' });
const calls = () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
const runs = (argv: string[]) => exec(argv).then(() => 0, (e: unknown) => (e instanceof CommandError ? { code: e.exitCode_, stderr: e.stderr } : Promise.reject(e)));

describe('the sudo flag follows the nixos-rebuild skyrec runs', () => {
  it('the stand-ins reject what their originals reject: ng an unknown option (exit 2), the Bash script --sudo (exit 1)', async () => {
    expect(await runs([ng, 'switch', '--elevate'])).toEqual({ code: 2, stderr: expect.stringContaining('error: unrecognized arguments: --elevate') });
    expect(await runs([bash, 'switch', '--sudo'])).toEqual({ code: 1, stderr: `${bash}: unknown option \`--sudo'\n` });
  });

  it('asks each one once: nixos-rebuild-ng gets --sudo, the Bash script --use-remote-sudo', async () => {
    expect(await detectSudoFlag(exec, ng, { timeoutMs: 10_000 })).toBe('--sudo');
    expect(await detectSudoFlag(exec, bash, { timeoutMs: 10_000 })).toBe('--use-remote-sudo');
    expect(calls()).toEqual([]); // the probe switches nothing
  });

  it('the switch argv with the detected flag is accepted by each; the other flag is refused by the Bash script and deprecated by ng', async () => {
    for (const [program, flag] of [[ng, '--sudo'], [bash, '--use-remote-sudo']] as const) {
      expect(await runs([program, ...buildSwitchArgv(sudoNode(), '/srv/flake', flag).slice(1)])).toBe(0);
    }
    expect(calls()).toEqual(['ng switch sudo=1', 'bash switch sudo=1']);
    expect(await runs([bash, ...buildSwitchArgv(sudoNode(), '/srv/flake', '--sudo').slice(1)])).toMatchObject({ code: 1 });
    const { stderr } = await exec([ng, ...buildSwitchArgv(sudoNode(), '/srv/flake', '--use-remote-sudo').slice(1)]);
    expect(stderr).toContain('--use-remote-sudo deprecated, use --sudo instead');
  });

  it('reads a probe failure that is not about --sudo (ng running a missing man) as nixos-rebuild-ng', () => {
    expect(sudoFlagFromProbe({ stderr: "FileNotFoundError: [Errno 2] No such file or directory: 'man'" })).toBe('--sudo');
    expect(sudoFlagFromProbe({ stderr: 'nixos-rebuild: error: unrecognized arguments: --sudo' })).toBe('--use-remote-sudo');
  });

  it('the driver switches a sudo node with the flag its nixos-rebuild takes, probing once per driver', async () => {
    writeFileSync(log, '');
    const flakeDir = join(tmp.dir, 'flake');
    for (const program of [ng, bash]) {
      const argvs: string[][] = [];
      // ssh to the node is answered here (the generation after the switch); nixos-rebuild runs for real.
      const recording: Exec = async (argv, opts) => {
        argvs.push(argv);
        return argv[0] === 'ssh' ? { stdout: 'system-3-link\n', stderr: '', exitCode: 0 } : exec(argv, opts);
      };
      const driver = createNixosDriver({ flakeDir, exec: recording, nixosRebuild: program });
      const target = { node: sudoNode(), run: { instances: [] } } as unknown as NodeTarget;
      const files = { listFiles: async () => [], readBytes: async () => Buffer.alloc(0) };
      expect(await driver.switchNode(target, files)).toEqual({ generation: 3, deferred: [] });
      expect(await driver.switchNode(target, files)).toEqual({ generation: 3, deferred: [] });
      const local = argvs.filter((a) => a[0] === program);
      expect(local.map((a) => a.at(-1))).toEqual(['--help', program === ng ? '--sudo' : '--use-remote-sudo', program === ng ? '--sudo' : '--use-remote-sudo']);
    }
    expect(calls()).toEqual(['ng switch sudo=1', 'ng switch sudo=1', 'bash switch sudo=1', 'bash switch sudo=1']);
  });
});
