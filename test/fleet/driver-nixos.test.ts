// The nixos driver: its argv against nixos-rebuild's documented flags (NIXOS-NOTES.md), and its
// remote commands over a REAL OpenSSH server on 127.0.0.1. There is no NixOS node here, so the
// node's nix-env, switch-to-configuration, systemd-run and systemctl are stand-in scripts that
// record their argv and move real symlinks in a fake system profile; readlink and ssh are real.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exec } from '../../common/exec.js';
import { ActivationError, EscapeError, NodeUnreachableError, SkyrecError } from '../../common/errors.js';
import { escapeShellArg } from '../../generators/escape.js';
import type { NodeTarget } from '../../fleet/node/driver.js';
import {
  REAL_REMOTE, buildActivateArgv, buildArmArgv, buildDisarmArgv, buildIsActiveArgv, buildNixSshOpts, buildSshArgv,
  buildSwitchArgv, buildSwitchGenerationArgv, createNixosDriver, parseGeneration, type NixosPreflightProblem, type RemoteCommands,
} from '../../fleet/drivers/nixos/driver-nixos.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { runCli } from '../helpers/cli.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { makeNode } from './builders.js';

describe('nixos driver argv (pure)', () => {
  it('switches with nixos-rebuild switch --flake <dir>#<node> --target-host <host>', () => {
    expect(buildSwitchArgv(makeNode('web1', { host: 'root@10.0.0.1' }), '/srv/rendered')).toEqual([
      'nixos-rebuild', 'switch', '--flake', '/srv/rendered#web1', '--no-update-lock-file', '--target-host', 'root@10.0.0.1',
    ]);
  });

  it('adds --build-host, and for a sudo node the sudo flag of the nixos-rebuild in use; keeps a spaced node name one word', () => {
    const node = makeNode('my node', { host: 'deploy@web1.example.com', buildHost: 'builder@10.0.0.9', sudo: 'sudo' });
    expect(buildSwitchArgv(node, '/srv/out dir', '--sudo')).toEqual([
      'nixos-rebuild', 'switch', '--flake', '/srv/out dir#my node', '--no-update-lock-file', '--target-host', 'deploy@web1.example.com', '--build-host', 'builder@10.0.0.9', '--sudo',
    ]);
    // fleet.yaml's two spellings both mean "through sudo": the flag is the program's (nixos-rebuild-sudo.test.ts).
    expect(buildSwitchArgv({ ...node, buildHost: null, sudo: 'sudo' }, '/f', '--use-remote-sudo').slice(-3)).toEqual(['--target-host', 'deploy@web1.example.com', '--use-remote-sudo']);
    expect(buildSwitchArgv({ ...node, buildHost: null, sudo: 'use-remote-sudo' }, '/f', '--sudo').slice(-1)).toEqual(['--sudo']);
    expect(buildSwitchArgv({ ...node, sudo: null }, '/f', '--use-remote-sudo')).not.toContain('--use-remote-sudo');
  });

  it('quotes every remote word for the node shell and refuses a host that ssh would read as an option', () => {
    const argv = buildSshArgv('root@10.0.0.1', ['nix-env', '-p', "/p/my node's $HOME; rm -rf /", '--switch-generation', '7'], { options: ['-o', 'BatchMode=yes'], port: 2222 });
    expect(argv).toEqual(['ssh', '-o', 'BatchMode=yes', '-p', '2222', 'root@10.0.0.1', '--', 'nix-env', '-p', `'/p/my node'\\''s $HOME; rm -rf /'`, '--switch-generation', '7']);
    expect(() => buildSshArgv('-oProxyCommand=touch /tmp/x', ['true'], { options: [] })).toThrow(EscapeError);
  });

  it('passes ssh options to nixos-rebuild in NIX_SSHOPTS, refusing words it would split', () => {
    expect(buildNixSshOpts({ options: ['-i', '/k/id', '-o', 'BatchMode=yes'], port: 2222 })).toBe('-i /k/id -o BatchMode=yes -p 2222');
    expect(buildNixSshOpts({ options: [] })).toBeUndefined();
    expect(() => buildNixSshOpts({ options: ['-i', '/my keys/id'] })).toThrow(EscapeError);
  });

  it('rolls back with nix-env --switch-generation then switch-to-configuration switch, under sudo -n when configured', () => {
    const root = makeNode('a');
    const sudo = makeNode('a', { sudo: 'use-remote-sudo' });
    expect(buildSwitchGenerationArgv(root, 41, REAL_REMOTE)).toEqual(['nix-env', '-p', '/nix/var/nix/profiles/system', '--switch-generation', '41']);
    expect(buildActivateArgv(root, REAL_REMOTE)).toEqual(['/nix/var/nix/profiles/system/bin/switch-to-configuration', 'switch']);
    expect(buildSwitchGenerationArgv(sudo, 41, REAL_REMOTE)).toEqual(['sudo', '-n', 'nix-env', '-p', '/nix/var/nix/profiles/system', '--switch-generation', '41']);
    expect(buildActivateArgv(sudo, REAL_REMOTE)[0]).toBe('sudo');
  });

  it('arms a transient systemd timer whose script rolls back, and disarms by stopping it', () => {
    expect(buildArmArgv(makeNode('a', { sudo: 'sudo' }), 41, 90_500, REAL_REMOTE)).toEqual([
      'sudo', '-n', 'systemd-run', '--unit=skyrec-rollback', '--on-active=91s', '--collect', '--setenv=PATH=/run/current-system/sw/bin:/run/wrappers/bin',
      '/bin/sh', '-c', 'nix-env -p /nix/var/nix/profiles/system --switch-generation 41 && /nix/var/nix/profiles/system/bin/switch-to-configuration switch',
    ]);
    expect(buildDisarmArgv(makeNode('a'), REAL_REMOTE)).toEqual(['systemctl', 'stop', 'skyrec-rollback.timer']);
    expect(buildIsActiveArgv(['blog-web-1', 'shop-worker-1'], REAL_REMOTE)).toEqual(['systemctl', 'is-active', 'blog-web-1.service', 'shop-worker-1.service']);
  });

  it('parses the generation from the profile link name', () => {
    expect(parseGeneration('system-42-link\n', '/nix/var/nix/profiles/system')).toBe(42);
    expect(parseGeneration('/nix/store/abc-nixos-system', '/nix/var/nix/profiles/system')).toBeUndefined();
  });
});

// ---- a real sshd on 127.0.0.1 and stand-in node programs ----

const tmp = makeTempDir('skyrec-nixos-driver-');
// Shell metacharacters in the profile path: every remote command must carry it through ssh intact.
const profileDir = join(tmp.dir, `node "profiles"; echo $HOME 'x' &`);
const profile = join(profileDir, 'system');
const logFile = join(tmp.dir, 'calls.log');
const state = join(tmp.dir, 'state');
// The flake the driver builds: the config repo's flake.nix and flake.lock (preflight refuses it without them).
const flakeDir = join(tmp.dir, 'flake');
let sshd: TestSshd;
let port = 0;
let sshOptions: string[] = [];

// Records `name [arg1] [arg2]` so that argument boundaries show.
const RECORD = `printf '%s' "$(basename "$0")"; for a in "$@"; do printf ' [%s]' "$a"; done`;
function standIn(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\nLOG=${escapeShellArg(logFile)}; STATE=${escapeShellArg(state)}\n{ ${RECORD}; echo; } >> "$LOG"\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
const remote: RemoteCommands = {
  profile,
  nixEnv: join(tmp.dir, 'bin/nix-env'),
  systemdRun: join(tmp.dir, 'bin/systemd-run'),
  systemctl: join(tmp.dir, 'bin/systemctl'),
  manifest: join(tmp.dir, 'etc/skyrec/manifest.json'),
  unitDir: join(tmp.dir, 'etc-systemd-system'),
};
// Stand-in unit files: each a link to a "store path" per version, as /etc/systemd/system is on NixOS.
const unitStore = join(tmp.dir, 'store');
function linkUnit(unit: string, version: string): void {
  mkdirSync(unitStore, { recursive: true });
  writeFileSync(join(unitStore, `${unit}-${version}.service`), `[Service]\n# ${version}\n`);
  rmSync(join(remote.unitDir, `${unit}.service`), { force: true });
  symlinkSync(join(unitStore, `${unit}-${version}.service`), join(remote.unitDir, `${unit}.service`));
}

beforeAll(async () => {
  const d = tmp.dir;
  sshd = await startSshd(d);
  port = sshd.port;
  sshOptions = sshd.options;

  mkdirSync(join(d, 'bin'));
  mkdirSync(flakeDir);
  for (const f of ['flake.nix', 'flake.lock']) writeFileSync(join(flakeDir, f), '');
  standIn(remote.nixEnv, `[ "$1" = -p ] && [ "$3" = --switch-generation ] || { echo "stand-in nix-env: unexpected argv" >&2; exit 2; }
[ -e "$2-$4-link" ] || { echo "error: generation $4 does not exist" >&2; exit 1; }
ln -sfn "$(basename "$2")-$4-link" "$2"`);
  standIn(remote.systemdRun, `[ -e "$STATE/timer-armed" ] && { echo "Failed to start transient timer unit: Unit skyrec-rollback.timer was already loaded or has a fragment file." >&2; exit 1; }
touch "$STATE/timer-armed"
[ -e "$STATE/fire-now" ] || exit 0
# Emulates the timer firing at once: run the command after the options.
while [ "$1" != /bin/sh ]; do shift; done; rm "$STATE/timer-armed"; exec "$@"`);
  standIn(remote.systemctl, `case "$1" in
is-active) shift; rc=0; for u in "$@"; do s=inactive; [ -f "$STATE/units/$u" ] && s=$(cat "$STATE/units/$u"); echo "$s"; [ "$s" = active ] || rc=3; done; exit $rc;;
stop) [ -e "$STATE/timer-armed" ] && { rm "$STATE/timer-armed"; exit 0; }; echo "Failed to stop $2: Unit $2 not loaded." >&2; exit 5;;
restart|try-restart) exit 0;;
esac; exit 1`);
  // Runs here (the "target" is this machine): records its argv and NIX_SSHOPTS, then adds generation 3,
  // whose blog-web-1 unit changed and whose blog-web-3 is new.
  // It answers skyrec's sudo probe (--sudo --help) as nixos-rebuild-ng does: with its help.
  standIn(join(d, 'bin/nixos-rebuild'), `[ "$1" = --sudo ] && { echo "usage: nixos-rebuild [--sudo] ..."; exit 0; }
echo "NIX_SSHOPTS=$NIX_SSHOPTS" >> "$LOG"
ln -sfn gen-3 ${escapeShellArg(profile)}-3-link && ln -sfn system-3-link ${escapeShellArg(profile)}
ln -sfn ${escapeShellArg(join(unitStore, 'blog-web-1-v2.service'))} ${escapeShellArg(join(remote.unitDir, 'blog-web-1.service'))}
ln -sfn ${escapeShellArg(join(unitStore, 'blog-web-3-v1.service'))} ${escapeShellArg(join(remote.unitDir, 'blog-web-3.service'))}`);
}, 30_000);

afterAll(async () => {
  await sshd?.stop();
  tmp.cleanup();
});

// A fresh fake profile before each test: generations 1 and 2, `system` → system-2-link.
beforeEach(() => {
  rmSync(profileDir, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
  mkdirSync(join(state, 'units'), { recursive: true });
  writeFileSync(logFile, '');
  for (const g of [1, 2, 3]) {
    mkdirSync(join(profileDir, `gen-${g}`, 'bin'), { recursive: true });
    // Generation g's blog-web-1 is version v<g>: activating it links that unit file.
    const unit = `ln -sfn ${escapeShellArg(join(unitStore, `blog-web-1-v${g}.service`))} ${escapeShellArg(join(remote.unitDir, 'blog-web-1.service'))}`;
    standIn(join(profileDir, `gen-${g}`, 'bin/switch-to-configuration'), `[ -f "$STATE/stc-exit" ] && { echo "stand-in: warning: the following units failed: blog-web-1.service" >&2; exit "$(cat "$STATE/stc-exit")"; }; echo "activated gen-${g}" >> "$LOG"; ${unit}`);
  }
  symlinkSync('gen-1', `${profile}-1-link`);
  symlinkSync('gen-2', `${profile}-2-link`);
  symlinkSync('system-2-link', profile);
  rmSync(remote.unitDir, { recursive: true, force: true });
  mkdirSync(remote.unitDir, { recursive: true });
  for (const [unit, version] of [['blog-web-1', 'v1'], ['blog-web-2', 'v1'], ['blog-web-1', 'v2'], ['blog-web-3', 'v1']]) linkUnit(unit, version);
  rmSync(join(remote.unitDir, 'blog-web-3.service'));
  linkUnit('blog-web-1', 'v1');
});

const node = () => makeNode('web1', { host: 'root@127.0.0.1', address: '127.0.0.1' });
const driver = (over: { sshPort?: number } = {}) =>
  createNixosDriver({ flakeDir, exec, sshOptions, sshPort: over.sshPort ?? port, remote, nixosRebuild: join(tmp.dir, 'bin/nixos-rebuild') });
const calls = () => readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '');

// Each call is an ssh round trip to a real sshd: seconds on a loaded machine, not a measure of skyrec.
describe('nixos driver over a real sshd (stand-in node programs)', { timeout: 30_000 }, () => {
  it('stand-in profile: currentGeneration reads 2 through real readlink, and null when the profile does not exist', async () => {
    expect(await driver().currentGeneration(node())).toBe(2);
    rmSync(profile);
    expect(await driver().currentGeneration(node())).toBeNull();
    writeFileSync(profile, 'not a link');
    await expect(driver().currentGeneration(node())).rejects.toThrow(/exists but is not a symlink/);
  });

  it("inspectNode (drift): the active generation and the hash of skyrec's manifest, read over ssh; no hash on a node skyrec never switched", async () => {
    rmSync(remote.manifest, { force: true });
    expect(await driver().inspectNode(node())).toEqual({ generation: 2, hash: null });
    mkdirSync(dirname(remote.manifest), { recursive: true });
    writeFileSync(remote.manifest, JSON.stringify({ node: 'web1', revision: 'abc', hash: 'h'.repeat(64), apps: {} }));
    expect(await driver().inspectNode(node())).toEqual({ generation: 2, hash: 'h'.repeat(64) });
    await expect(driver({ sshPort: await freePort() }).inspectNode(node())).rejects.toThrow(NodeUnreachableError);
  });

  it('stand-in nix-env and switch-to-configuration: rollbackNode(1) moves the profile and activates generation 1', async () => {
    expect(await driver().rollbackNode(node(), 1, [])).toEqual([]);
    expect(readlinkSync(profile)).toBe('system-1-link');
    expect(calls()).toEqual([`nix-env [-p] [${profile}] [--switch-generation] [1]`, 'switch-to-configuration [switch]', 'activated gen-1']);
    expect(await driver().currentGeneration(node())).toBe(1);
  });

  it('stand-in units: rollbackNode returns the web units whose definition the rollback changed, for the rollout to restart', async () => {
    linkUnit('blog-web-1', 'v2');
    expect(await driver().rollbackNode(node(), 1, ['blog-web-1', 'blog-web-2'])).toEqual(['blog-web-1']);
    expect(readlinkSync(join(remote.unitDir, 'blog-web-1.service'))).toBe(join(unitStore, 'blog-web-1-v1.service'));
  });

  it('stand-in switch-to-configuration exiting 4 becomes an ActivationError that says a unit failed', async () => {
    writeFileSync(join(state, 'stc-exit'), '4');
    const err = await driver().rollbackNode(node(), 1, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActivationError);
    expect(err).toMatchObject({ code: 'ACTIVATION_FAILED', switchExitCode: 4, node: 'web1' });
    expect((err as Error).message).toBe('node web1: switch-to-configuration of generation 1 failed: a unit failed to start or is failed after the switch');
  });

  it('stand-in systemd-run and systemctl: arm and disarm run the expected argv; disarming twice is not an error', async () => {
    await driver().armRollback(node(), 1, 120_000);
    await driver().disarmRollback(node());
    await driver().disarmRollback(node());
    const script = `${escapeShellArg(remote.nixEnv)} -p ${escapeShellArg(profile)} --switch-generation 1 && ${escapeShellArg(`${profile}/bin/switch-to-configuration`)} switch`;
    expect(calls()).toEqual([
      `systemd-run [--unit=skyrec-rollback] [--on-active=120s] [--collect] [--setenv=PATH=/run/current-system/sw/bin:/run/wrappers/bin] [/bin/sh] [-c] [${script}]`,
      'systemctl [stop] [skyrec-rollback.timer]',
      'systemctl [stop] [skyrec-rollback.timer]',
    ]);
  });

  it('stand-in timer firing runs the armed script: the node rolls itself back to the armed generation', async () => {
    writeFileSync(join(state, 'fire-now'), '');
    await driver().armRollback(node(), 1, 30_000);
    expect(readlinkSync(profile)).toBe('system-1-link');
    expect(calls().slice(1)).toEqual([`nix-env [-p] [${profile}] [--switch-generation] [1]`, 'switch-to-configuration [switch]', 'activated gen-1']);
  });

  it('stand-in systemd-run: arming while a rollback is still armed fails clearly instead of replacing it', async () => {
    await driver().armRollback(node(), 2, 60_000);
    const err = await driver().armRollback(node(), 2, 60_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkyrecError);
    expect((err as SkyrecError).message).toMatch(/^node web1: could not arm the rollback timer: .*already loaded/);
    expect((err as SkyrecError).hint).toMatch(/systemctl stop skyrec-rollback.timer/);
  });

  it('null generation: armRollback arms nothing', async () => {
    await driver().armRollback(node(), null, 60_000);
    expect(calls()).toEqual([]);
  });

  it('stand-in systemctl: inactiveUnits returns the units whose is-active state is not active', async () => {
    writeFileSync(join(state, 'units/blog-web-1.service'), 'active');
    writeFileSync(join(state, 'units/blog-web-2.service'), 'failed');
    expect(await driver().inactiveUnits(node(), ['blog-web-1', 'blog-web-2', 'shop-web-1'])).toEqual(['blog-web-2', 'shop-web-1']);
    writeFileSync(join(state, 'units/shop-web-1.service'), 'active');
    writeFileSync(join(state, 'units/blog-web-2.service'), 'active');
    expect(await driver().inactiveUnits(node(), ['blog-web-1', 'blog-web-2', 'shop-web-1'])).toEqual([]);
  });

  it('stand-in nixos-rebuild: switchNode runs the documented argv with NIX_SSHOPTS and returns the new generation read over ssh', async () => {
    const web = (unit: string) => ({ unit, process: 'web' });
    const target = { node: { ...node(), sudo: 'sudo' }, run: { instances: [web('blog-web-1'), web('blog-web-2'), web('blog-web-3'), { unit: 'blog-worker-1', process: 'worker' }] } } as unknown as NodeTarget;
    // Only the web unit whose definition changed and that existed before is left for the rollout to restart.
    expect(await driver().switchNode(target, { listFiles: async () => [], readBytes: async () => Buffer.alloc(0) })).toEqual({ generation: 3, deferred: ['blog-web-1'] });
    expect(calls()).toEqual([
      'nixos-rebuild [--sudo] [--help]',
      `nixos-rebuild [switch] [--flake] [${flakeDir}#web1] [--no-update-lock-file] [--target-host] [root@127.0.0.1] [--sudo]`,
      `NIX_SSHOPTS=${sshOptions.join(' ')} -p ${port}`,
    ]);
  });

  it('stand-in systemctl: restartUnit runs systemctl restart of the unit over ssh', async () => {
    await driver().restartUnit(node(), 'blog-web-1');
    expect(readFileSync(logFile, 'utf8')).toContain('systemctl [restart] [blog-web-1.service]');
  });

  it('armed with web units, the timer script restarts them one after another after switching back', async () => {
    writeFileSync(join(state, 'fire-now'), '');
    await driver().armRollback(node(), 1, 30_000, ['blog-web-1', 'blog-web-2']);
    expect(calls().slice(1)).toEqual([
      `nix-env [-p] [${profile}] [--switch-generation] [1]`, 'switch-to-configuration [switch]', 'activated gen-1',
      'systemctl [try-restart] [blog-web-1.service]', 'systemctl [try-restart] [blog-web-2.service]',
    ]);
  });

  it('preflight: a reachable node passes; a port with nothing listening is a NodeUnreachableError naming node and host', async () => {
    const target = (n: ReturnType<typeof node>) => ({ node: n }) as unknown as NodeTarget;
    expect(await driver().preflight([target(node())])).toEqual([]);
    const closed = await freePort();
    const problems = (await driver({ sshPort: closed }).preflight([target(makeNode('db1', { host: 'root@127.0.0.1' }))])) as NixosPreflightProblem[];
    expect(problems).toHaveLength(1);
    expect(problems[0].node).toBe('db1');
    expect(problems[0].error).toBeInstanceOf(NodeUnreachableError);
    expect(problems[0].error).toMatchObject({ code: 'NODE_UNREACHABLE', node: 'db1', host: 'root@127.0.0.1' });
    expect(problems[0].message).toMatch(/^node db1 is unreachable over ssh \(root@127\.0\.0\.1\): .*refused/i);
  });

  it('preflight over real ssh: a node missing a secret file its units read (here an addon password) is named with app and path', async () => {
    const secrets = join(tmp.dir, 'run-secrets');
    mkdirSync(join(secrets, 'shop'), { recursive: true });
    writeFileSync(join(secrets, 'shop', 'SESSION_SECRET'), 'x\n');
    const instance = { unit: 'shop-web-1', app: 'shop', process: 'web', secrets: ['SESSION_SECRET'], addons: { postgres: { node: 'db1', port: 5432, password: true }, redis: null } };
    const target = { node: node(), run: { node: 'web1', instances: [instance], releases: [], postgres: [], redis: [] } } as unknown as NodeTarget;
    const withSecrets = createNixosDriver({ flakeDir, exec, sshOptions, sshPort: port, remote, nixosRebuild: join(tmp.dir, 'bin/nixos-rebuild'), secretsDir: secrets });
    expect(await withSecrets.preflight([target])).toEqual([{ node: 'web1', message: `shop: secret file ${secrets}/shop/DATABASE_PASSWORD is missing` }]);
    writeFileSync(join(secrets, 'shop', 'DATABASE_PASSWORD'), 'y\n');
    expect(await withSecrets.preflight([target])).toEqual([]);
  });

  it('URLs: an instance by address and port, the ingress over plain http', () => {
    expect(driver().instanceUrl(node(), 8001, '/health')).toBe('http://127.0.0.1:8001/health');
    expect(driver().instanceUrl({ ...node(), address: 'fd00::1' }, 8001, '/')).toBe('http://[fd00::1]:8001/');
    expect(driver().ingressUrl(node())).toBe('http://127.0.0.1');
  });
});

describe('nixos driver --ssh-key over a real sshd (stand-in node programs)', { timeout: 30_000 }, () => {
  // The sshd helper's options without its -i: the key must come from sshKey alone.
  const optionsWithoutKey = () => sshOptions.filter((_, i) => sshOptions[i - 1] !== '-i' && sshOptions[i] !== '-i');
  const keyed = (sshKey: string) =>
    createNixosDriver({ flakeDir, exec, sshOptions: optionsWithoutKey(), sshPort: port, remote, sshKey, nixosRebuild: join(tmp.dir, 'bin/nixos-rebuild-over-ssh') });
  const clientKey = () => join(tmp.dir, 'client_key');
  const otherKey = () => join(tmp.dir, 'other_key');

  beforeAll(async () => {
    await exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', otherKey()]);
    // Connects to the --target-host as nixos-rebuild does (`ssh $NIX_SSHOPTS host`, split on
    // whitespace), then does what the stand-in nixos-rebuild does.
    standIn(join(tmp.dir, 'bin/nixos-rebuild-over-ssh'), `for a; do [ "$prev" = --target-host ] && host=$a; prev=$a; done
ssh $NIX_SSHOPTS "$host" true || { echo "stand-in nixos-rebuild: ssh $host failed" >&2; exit 1; }
echo "reached $host with NIX_SSHOPTS" >> "$LOG"
exec "$(dirname "$0")/nixos-rebuild" "$@"`);
  });

  it('reaches the node with the key file it is given, and fails with another key', async () => {
    expect(optionsWithoutKey()).not.toContain(clientKey());
    expect(await keyed(clientKey()).currentGeneration(node())).toBe(2);
    await expect(keyed(otherKey()).currentGeneration(node())).rejects.toThrow(NodeUnreachableError);
   }, 30_000);

  it('stand-in nixos-rebuild that connects with NIX_SSHOPTS: the switch runs with -i <key> -o IdentitiesOnly=yes there and reaches the node', async () => {
    const target = { node: node(), run: { instances: [] } } as unknown as NodeTarget;
    const files = { listFiles: async () => [], readBytes: async () => Buffer.alloc(0) };
    expect(await keyed(clientKey()).switchNode(target, files)).toEqual({ generation: 3, deferred: [] });
    expect(calls()).toEqual([
      `nixos-rebuild-over-ssh [switch] [--flake] [${flakeDir}#web1] [--no-update-lock-file] [--target-host] [root@127.0.0.1]`,
      'reached root@127.0.0.1 with NIX_SSHOPTS',
      `nixos-rebuild [switch] [--flake] [${flakeDir}#web1] [--no-update-lock-file] [--target-host] [root@127.0.0.1]`,
      `NIX_SSHOPTS=-i ${clientKey()} -o IdentitiesOnly=yes ${optionsWithoutKey().join(' ')} -p ${port}`,
    ]);
    // With a key the node does not accept, nixos-rebuild's own ssh fails too: the switch fails.
    await expect(keyed(otherKey()).switchNode(target, files)).rejects.toThrow(/ssh root@127\.0\.0\.1 failed/);
   }, 30_000);

  it('skyrec refuses an --ssh-key that does not exist or that NIX_SSHOPTS would split, naming the flag', async () => {
    const missing = await runCli(['history', '--ssh-key', join(tmp.dir, 'no_such_key'), '--state', join(tmp.dir, 'cli-state')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--ssh-key ${join(tmp.dir, 'no_such_key')} cannot be used: ENOENT`);
    const spaced = join(tmp.dir, 'my key');
    writeFileSync(spaced, '');
    const split = await runCli(['history', '--ssh-key', spaced, '--state', join(tmp.dir, 'cli-state')]);
    expect(split.code).toBe(2);
    expect(split.stderr).toContain('the path must not contain whitespace');
    expect((await runCli(['history', '--ssh-key', clientKey(), '--state', join(tmp.dir, 'cli-state')])).code).toBe(0);
  });
});
