// SSH signatures, checked as `git verify-commit` does with gpg.ssh.allowedSignersFile: find the
// principals the allowed-signers file gives the signing key, verify the payload for one of them
// in the "git" namespace, and for a key no file allows, still tell its fingerprint.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyFile } from './trust-policy.js';
import type { TrustVerdict } from './trust-verdict.js';
import { runTool } from './run-tool.js';
import type { Exec } from '../../common/exec.js';

const OUT_OF_BOUNDS = /key has expired|not yet valid|not permitted for use in signature namespace/;

type SshVerdict = Pick<TrustVerdict, 'trusted' | 'reason' | 'signer'>;

const keyOf = (out: string): string | null => {
  const m = /with (\S+) key (SHA256:[A-Za-z0-9+/=]+)/.exec(out);
  return m ? `${m[1]} key ${m[2]}` : null;
};

export async function verifySsh(opts: { tmp: string; signature: string; payload: Buffer; files: KeyFile[]; exec: Exec }): Promise<SshVerdict> {
  const { tmp, payload, exec } = opts;
  const sig = join(tmp, 'commit.sig');
  const allowed = join(tmp, 'allowed_signers');
  writeFileSync(sig, opts.signature);
  // ssh-keygen takes one file: every allowed-signers file given, one after another.
  writeFileSync(allowed, opts.files.map((f) => (f.text.endsWith('\n') ? f.text : `${f.text}\n`)).join(''));
  const found = await runTool(exec, ['ssh-keygen', '-Y', 'find-principals', '-f', allowed, '-s', sig]);
  const principals = found.ok ? found.stdout.split('\n').filter((p) => p !== '') : [];
  // A key in a file, but outside its valid-after/valid-before (checked at the time of the check,
  // not the commit's date, which its author chose) or its namespaces: ssh-keygen says so here.
  let outOfBounds = !found.ok && OUT_OF_BOUNDS.test(found.stderr);
  let claimed: string | null = null;
  for (const principal of principals) {
    const verified = await runTool(exec, ['ssh-keygen', '-Y', 'verify', '-f', allowed, '-I', principal, '-n', 'git', '-s', sig], payload);
    if (verified.ok) return { trusted: true, reason: 'signed', signer: `${principal} (${keyOf(verified.stdout + verified.stderr) ?? 'ssh key'})` };
    claimed ??= principal;
    outOfBounds ||= OUT_OF_BOUNDS.test(verified.stderr);
  }
  // No principal, or none it verifies for: is the signature at least sound, and by which key?
  const sound = await runTool(exec, ['ssh-keygen', '-Y', 'check-novalidate', '-n', 'git', '-s', sig], payload);
  const key = keyOf(sound.stdout + sound.stderr);
  const signer = claimed && key ? `${claimed} (${key})` : (claimed ?? key);
  if (!sound.ok) return { trusted: false, reason: 'bad-signature', signer };
  return { trusted: false, reason: outOfBounds ? 'expired-key' : claimed ? 'bad-signature' : 'unknown-key', signer };
}
