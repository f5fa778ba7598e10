// Real signing keys for the trust tests: ssh-keygen ed25519 keys and gpg keys made in a temp
// dir with no passphrase, and commits signed with them by git itself.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import type { TestRepo } from '../helpers/git-repo.js';

export interface Signer {
  /** git -c options that make `git commit -S` sign with this key. */
  gitConfig: string[];
  env: Record<string, string>;
  /** A line of an allowed-signers file (SSH), or an armored public keyring (OpenPGP). */
  allowed: string;
  /** What the verdict names: the SSH key's SHA256 fingerprint, or the OpenPGP fingerprint. */
  fingerprint: string;
  /** Stops what the key made run (gpg's agent). */
  dispose(): Promise<void>;
}

export async function makeSshSigner(dir: string, email: string): Promise<Signer> {
  const key = join(dir, `ssh-${email.replace(/\W/g, '_')}`);
  await exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', email, '-f', key]);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim();
  const fingerprint = /SHA256:\S+/.exec((await exec(['ssh-keygen', '-l', '-f', `${key}.pub`])).stdout)![0];
  return { gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`], env: {}, allowed: `${email} ${pub}\n`, fingerprint, dispose: async () => {} };
}

export async function makeGpgSigner(dir: string, name: string, email: string): Promise<Signer> {
  const home = join(dir, `gnupg-${name.replace(/\W/g, '_')}`);
  await exec(['mkdir', '-m', '700', home]);
  const gpg = ['gpg', '--homedir', home, '--batch'];
  await exec([...gpg, '--passphrase', '', '--quick-gen-key', `${name} <${email}>`, 'ed25519', 'sign', 'never']);
  const colons = (await exec([...gpg, '--with-colons', '--list-keys', email])).stdout;
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1];
  const allowed = (await exec([...gpg, '--armor', '--export', fingerprint])).stdout;
  return {
    gitConfig: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fingerprint}`],
    env: { GNUPGHOME: home },
    allowed,
    fingerprint,
    dispose: async () => void (await exec(['gpgconf', '--homedir', home, '--kill', 'all']).catch(() => undefined)),
  };
}

/** Commits everything, signed by `signer` (git commit -S); returns the commit id. */
export async function commitSigned(repo: TestRepo, signer: Signer, message: string, files: Record<string, string | null> = {}): Promise<string> {
  repo.write(files);
  await repo.git('add', '-A');
  const author = ['-c', 'user.name=skyrec test', '-c', 'user.email=test@skyrec.invalid'];
  await exec(['git', ...author, ...signer.gitConfig, 'commit', '-q', '--allow-empty', '-S', '-m', message], { cwd: repo.dir, env: signer.env });
  return repo.git('rev-parse', 'HEAD');
}

/**
 * A commit object written by hand: `from`'s headers and signature over another message, the way
 * someone would forge a signed commit (git hash-object -w -t commit); returns its id.
 */
export async function forgeCommit(repo: TestRepo, from: string, message: string): Promise<string> {
  const raw = (await exec(['git', 'cat-file', 'commit', from], { cwd: repo.dir })).stdout;
  const forged = raw.replace(/\n\n[\s\S]*$/, `\n\n${message}\n`);
  const file = join(repo.dir, '.git', 'forged-commit');
  writeFileSync(file, forged);
  return (await exec(['git', 'hash-object', '-w', '-t', 'commit', file], { cwd: repo.dir })).stdout.trim();
}

/** Writes the key files `--require-signed-by` takes; returns their paths. */
export function writeKeyFile(dir: string, name: string, ...signers: Signer[]): string {
  const path = join(dir, name);
  writeFileSync(path, signers.map((s) => s.allowed).join(''));
  return path;
}
