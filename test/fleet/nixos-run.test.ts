// `skyrec run` on the nixos driver: over a REAL OpenSSH server on 127.0.0.1, with a stand-in
// systemd-run and systemctl (shell scripts) that record their argv, refuse argv they do not
// expect, and do what the real ones do for the code: systemd-run --pty needs a terminal and
// --pipe pipes, it applies WorkingDirectory= and LoadCredential= (CREDENTIALS_DIRECTORY), runs the
// command and exits with its status; `systemctl kill --signal=SIGINT` signals the unit's process.
// The terminal is a real pseudo-terminal (script(1)); Ctrl-C is a real SIGINT to the process
// group of the user's skyrec, or a real ^C typed on the terminal.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { escapeShellArg } from '../../generators/escape.js';
import { packageRoot } from '../../common/paths.js';
import { exec } from '../../common/exec.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { buildSystemdRunArgv, parseRunProperties } from '../../fleet/drivers/nixos/nixos-run.js';
import { REAL_OPERATE, type OperateCommands } from '../../fleet/drivers/nixos/nixos-operate.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { RunProcess } from '../../generators/render-run-spec.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { standIns } from '../helpers/stand-in.js';
import { makeTempDir } from '../helpers/tools.js';
import { makeNode } from './builders.js';

const SECRET = "s3cret 'quoted' $HOME";
const tmp = makeTempDir('skyrec-nixos-run-');
const { standIn, recorded, reset } = standIns(tmp.dir);
const units = join(tmp.dir, 'units');
const etc = join(tmp.dir, 'etc');
const pkg = join(tmp.dir, 'pkg');

const SYSTEMD_RUN = `fail() { echo "stand-in systemd-run: $*" >&2; exit 2; }
[ "$1 $2 $3 $4 $5" = "--quiet --collect --wait --service-type=exec --expand-environment=no" ] || fail "unexpected flags: $*"
shift 5
case "$1" in --unit=shop-run-*) unit="\${1#--unit=}" ;; *) fail "no --unit=shop-run-*: $1" ;; esac
[ "$2" = "--description=skyrec run shop" ] || fail "unexpected description: $2"
case "$3" in
  --pty) [ -t 0 ] && [ -t 1 ] || fail "--pty without a terminal" ;;
  --pipe) [ ! -t 0 ] && [ ! -t 1 ] || fail "--pipe on a terminal" ;;
  *) fail "neither --pty nor --pipe: $3" ;;
esac
shift 3
creds=${escapeShellArg(join(tmp.dir, 'creds'))}/$unit
while [ "$1" != -- ]; do
  case "$1" in
    --property=WorkingDirectory=*) cd "\${1#--property=WorkingDirectory=}" || exit 200 ;;
    --property=LoadCredential=*) c="\${1#--property=LoadCredential=}"; mkdir -p "$creds"; cp "\${c#*:}" "$creds/\${c%%:*}"; export CREDENTIALS_DIRECTORY="$creds" ;;
    --property=*=*) ;;
    *) fail "not a property: $1" ;;
  esac
  shift
done
shift
[ -x "$1" ] || exit 203
echo $$ > ${escapeShellArg(units)}/"$unit".pid
exec "$@"`;

const SYSTEMCTL = `[ "$1 $2" = "kill --signal=SIGINT" ] || { echo "stand-in systemctl: unexpected argv: $*" >&2; exit 2; }
kill -INT "$(cat ${escapeShellArg(units)}/"\${3%.service}".pid)"`;

const PROPERTIES = ['CPUQuota=50%', 'Group=root', `LoadCredential=SESSION_SECRET:${join(tmp.dir, 'secrets', 'SESSION_SECRET')}`, 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'User=root', `WorkingDirectory=${pkg}`];
// What the rendered command does (test/generators/render-run.test.ts runs the real one): the environment, then the arguments.
const COMMAND = `#!/bin/sh
SESSION_SECRET="$(cat "$CREDENTIALS_DIRECTORY/SESSION_SECRET")"; export SESSION_SECRET
export DATABASE_URL='postgresql:///shop?host=/run/postgresql'
exec "$@"`;

const ops = (): Partial<OperateCommands> => ({ systemdRun: join(tmp.dir, 'bin', 'systemd-run'), systemctl: join(tmp.dir, 'bin', 'systemctl'), etcDir: etc });
const shopProcess = { unit: 'shop-web-1', app: 'shop', process: 'web', index: 1, port: 20001, command: 'x', cwd: null, env: {}, secrets: ['SESSION_SECRET'], addons: { postgres: null, redis: null } } as unknown as RunProcess;

let sshd: TestSshd;
let driver: NodeDriver;
const node = () => makeNode('a', { host: 'root@127.0.0.1' });

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  for (const d of [units, pkg, join(tmp.dir, 'secrets'), join(etc, 'skyrec', 'run', 'shop')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(tmp.dir, 'secrets', 'SESSION_SECRET'), SECRET + '\n');
  writeFileSync(join(etc, 'skyrec', 'run', 'shop', 'properties'), PROPERTIES.join('\n') + '\n');
  writeFileSync(join(etc, 'skyrec', 'run', 'shop', 'command'), COMMAND);
  chmodSync(join(etc, 'skyrec', 'run', 'shop', 'command'), 0o755);
  standIn('systemd-run', SYSTEMD_RUN);
  standIn('systemctl', SYSTEMCTL);
  driver = createNixosDriver({ flakeDir: join(tmp.dir, 'flake'), exec, sshOptions: sshd.options, sshPort: sshd.port, operate: ops() });
}, 30_000);

afterAll(async () => {
  await sshd?.stop();
  tmp.cleanup();
});

beforeEach(() => reset());

/** `skyrec run` as the user's process: the nixos driver's runCommand in a node process of its own, on this process's stdio. */
function runnerCommand(argv: string[]): string[] {
  const runner = join(tmp.dir, 'runner.mjs');
  if (!existsSync(runner)) {
    writeFileSync(runner, `import { createNixosDriver } from ${JSON.stringify(join(packageRoot(), 'dist', 'fleet', 'drivers', 'nixos', 'driver-nixos.js'))};
import { exec } from ${JSON.stringify(join(packageRoot(), 'dist', 'common', 'exec.js'))};
const [config, ...argv] = process.argv.slice(2);
const c = JSON.parse(config);
const driver = createNixosDriver({ flakeDir: c.flakeDir, exec, sshOptions: c.sshOptions, sshPort: c.sshPort, operate: c.operate });
const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
process.exitCode = await driver.runCommand(c.node, { process: c.process, argv }, { tty, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
`);
  }
  const config = { flakeDir: join(tmp.dir, 'flake'), sshOptions: sshd.options, sshPort: sshd.port, operate: ops(), node: node(), process: shopProcess };
  return [process.execPath, runner, JSON.stringify(config), ...argv];
}

/** Resolves with the output once it holds `text`; rejects when the process ends first. */
function waitFor(out: { text: string }, child: ReturnType<typeof spawn>, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => out.text.includes(text) && (child.stdout!.off('data', check), resolve());
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before "${text}":\n${out.text}`)));
    check();
  });
}

/** Whether the one-off unit's process (its pid, as the stand-in systemd-run wrote it) has ended. */
const gone = (unit: string) => !existsSync(`/proc/${Number(readFileSync(join(units, `${unit}.pid`), 'utf8'))}`);

describe('nixos driver: skyrec run over a real sshd (stand-in systemd-run and systemctl)', { timeout: 60_000 }, () => {
  it('argv (pure): systemd-run with the unit properties from the node, waiting, collected, arguments unexpanded; as root through sudo -n', () => {
    const argv = buildSystemdRunArgv(makeNode('a', { sudo: 'sudo' }), { app: 'shop', unit: 'shop-run-1a2b3c4d', tty: true, properties: ['User=shop', 'LoadCredential=S:/run/secrets/shop/S'], argv: ['psql', '$DATABASE_URL'] }, REAL_OPERATE);
    expect(argv).toEqual([
      'sudo', '-n', 'systemd-run', '--quiet', '--collect', '--wait', '--service-type=exec', '--expand-environment=no', '--unit=shop-run-1a2b3c4d', '--description=skyrec run shop', '--pty',
      '--property=User=shop', '--property=LoadCredential=S:/run/secrets/shop/S', '--', '/etc/skyrec/run/shop/command', 'psql', '$DATABASE_URL',
    ]);
    expect(() => parseRunProperties('shop', 'User=shop\n--pty\n')).toThrow(/not a systemd property: "--pty"/);
  });

  it('pipes: the exact systemd-run argv, the environment and secret, the working directory, arguments as given, stdout and stderr apart, the exit code; nothing left running', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c) => (out += c));
    stderr.on('data', (c) => (err += c));
    stdin.end('hello\n');
    const script = 'echo "db=$DATABASE_URL"; echo "secret=$SESSION_SECRET"; echo "pwd=$(pwd)"; echo "args=$1|$2|$3"; read line; echo "read $line"; echo oops >&2; exit 7';
    const code = await driver.runCommand!(node(), { process: shopProcess, argv: ['sh', '-c', script, 'sh', 'two words', '$HOME', "it's"] }, { tty: false, stdin, stdout, stderr });
    expect(code, err).toBe(7);
    expect(out.split('\n')).toEqual(['db=postgresql:///shop?host=/run/postgresql', `secret=${SECRET}`, `pwd=${pkg}`, "args=two words|$HOME|it's", 'read hello', '']);
    expect(err).toBe('oops\n');
    const run = recorded().find((l) => l.startsWith('systemd-run '))!;
    const unit = /\[--unit=(shop-run-[0-9a-f]{8})\]/.exec(run)![1];
    expect(run).toBe(['systemd-run', ...['--quiet', '--collect', '--wait', '--service-type=exec', '--expand-environment=no', `--unit=${unit}`, '--description=skyrec run shop', '--pipe', ...PROPERTIES.map((p) => `--property=${p}`), '--', join(etc, 'skyrec/run/shop/command'), 'sh', '-c', script, 'sh', 'two words', '$HOME', "it's"].map((a) => `[${a}]`)].join(' '));
    expect(gone(unit)).toBe(true);
  });

  it('pipes: Ctrl-C (SIGINT to the user\'s process group) reaches the command through systemctl kill, and its exit code comes back', async () => {
    const argv = runnerCommand(['sh', '-c', 'trap "echo interrupted; exit 130" INT; echo ready; while :; do sleep 0.1; done']);
    // A process group of its own, as a shell gives each job: the terminal's Ctrl-C goes to that group.
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out = { text: '' };
    let stderr = '';
    child.stdout!.on('data', (c) => (out.text += c));
    child.stderr!.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(out, child, 'ready');
    // As a terminal's Ctrl-C: to the whole foreground process group, the user's skyrec and what it started there.
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(out.text).toBe('ready\ninterrupted\n');
    const unit = /\[--unit=(shop-run-[0-9a-f]{8})\]/.exec(recorded().find((l) => l.startsWith('systemd-run '))!)![1];
    expect(recorded()).toContain(`systemctl [kill] [--signal=SIGINT] [${unit}.service]`);
    expect(gone(unit)).toBe(true);
  });

  it('a terminal (script): ssh -t and systemd-run --pty; the command is on a terminal, reads what is typed, ^C reaches it, the exit code comes back', async () => {
    const script = 'tty -s && echo "on a terminal"; read x; echo "you said $x"; trap "echo got-int; exit 130" INT; echo ready; while :; do sleep 0.1; done';
    const cmd = runnerCommand(['sh', '-c', script]).map(escapeShellArg).join(' ');
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = { text: '' };
    child.stdout!.on('data', (c) => (out.text += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(out, child, 'on a terminal');
    child.stdin!.write('hi there\r');
    await waitFor(out, child, 'ready');
    expect(out.text).toContain('you said hi there');
    child.stdin!.write('\x03');
    expect(await exited, out.text).toBe(130);
    expect(out.text).toContain('got-int');
    const run = recorded().find((l) => l.startsWith('systemd-run '))!;
    expect(run).toContain('[--pty]');
    expect(gone(/\[--unit=(shop-run-[0-9a-f]{8})\]/.exec(run)![1])).toBe(true);
  });

  it('a node whose configuration predates skyrec run: a clear error naming the file, nothing started', async () => {
    const io = { tty: false, stdout: new PassThrough(), stderr: new PassThrough() };
    await expect(driver.runCommand!(node(), { process: { ...shopProcess, app: 'blog' } as RunProcess, argv: ['true'] }, io)).rejects.toThrow("a has no /etc/skyrec/run/blog/properties: it runs a configuration of blog rendered before `skyrec run` existed");
    expect(recorded().filter((l) => l.startsWith('systemd-run'))).toEqual([]);
  });
});
