// A real OpenSSH server on 127.0.0.1 for the nixos driver's tests: root logs in with a key made
// for the test, and `options` are what ssh (and the driver) need to reach it unattended.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { freePort } from './tools.js';

const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  /** ssh options: this test's key, no host key checks, no prompts. */
  options: string[];
  stop(): Promise<void>;
}


/** Resolves once something accepts connections on 127.0.0.1:port; throws when `alive()` turns false or after `ms`. */
export async function waitForPort(port: number, what: string, alive: () => boolean, log: () => string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => net.connect(port, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); r(true); }).on('error', () => r(false)));
    if (ok) return;
    if (!alive() || Date.now() > until) throw new Error(`${what} did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * sshd's command line. Debian's bash reads ~/.bashrc in every command an ssh session runs; this
 * machine's root .bashrc runs `pyenv init`, about 2 s per command, which a NixOS node's root does
 * not. So sshd runs in its own mount namespace where that file reads as empty: the remote
 * commands under test run as on a node, and each costs ~0.3 s instead of ~2.3 s.
 */
function sshdArgv(args: string[]): [string, string[]] {
  const bashrc = join(homedir(), '.bashrc');
  // Where no mount namespace can be made (a container without the capability), sshd runs as it is.
  if (!existsSync(bashrc) || spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' }).status !== 0) return [SSHD, args];
  return ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', bashrc, SSHD, ...args]];
}

/** Starts sshd with its keys and config in `dir`. */
export async function startSshd(dir: string): Promise<TestSshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install -y openssh-server`);
  await exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  const port = await freePort();
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`, 'StrictModes no', 'UsePAM no', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', '',
  ].join('\n'));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory, normally made by its service unit
  const sshd: ChildProcess = spawn(...sshdArgv(['-D', '-e', '-f', join(dir, 'sshd_config')]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  sshd.stderr!.on('data', (c) => (stderr += String(c)));
  await waitForPort(port, 'sshd', () => sshd.exitCode === null, () => stderr);
  return {
    port,
    options: ['-F', '/dev/null', '-i', join(dir, 'client_key'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR'],
    async stop() {
      if (sshd.exitCode !== null || sshd.signalCode !== null) return;
      const exited = new Promise((r) => sshd.once('exit', r));
      sshd.kill('SIGTERM');
      await exited;
    },
  };
}
