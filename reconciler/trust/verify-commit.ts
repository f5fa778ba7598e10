// `--require-signed-by`: is a commit signed by a key the policy allows? One check reads the raw
// commit, splits off its signature and hands both to ssh-keygen or gpg in a private temporary
// folder, removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitReader } from '../pipeline/git.js';
import type { Exec } from '../../common/exec.js';
import { readCommitSignature } from './commit-signature.js';
import type { TrustPolicy } from './trust-policy.js';
import type { TrustVerdict } from './trust-verdict.js';
import { verifySsh } from './verify-ssh.js';
import { verifyOpenPgp } from './verify-openpgp.js';

export async function verifyCommit(opts: { git: GitReader; commit: string; policy: TrustPolicy; exec: Exec; now?: () => Date }): Promise<TrustVerdict> {
  const { commit, policy, exec } = opts;
  const checkedAt = (opts.now?.() ?? new Date()).toISOString();
  const { payload, signature, format } = await readCommitSignature(opts.git, commit);
  const base = { commit, format, checkedAt };
  if (signature === null) return { ...base, trusted: false, reason: 'unsigned', signer: null };
  if (format !== 'ssh' && format !== 'openpgp') return { ...base, trusted: false, reason: 'unsupported-format', signer: null };
  const files = policy.files.filter((f) => f.kind === (format === 'ssh' ? 'allowed-signers' : 'openpgp-keyring'));
  const tmp = mkdtempSync(join(tmpdir(), 'skyrec-trust-'));
  try {
    const verify = format === 'ssh' ? verifySsh : verifyOpenPgp;
    // No file of this kind: still say whose signature it is, as an unknown key.
    return { ...base, ...(await verify({ tmp, signature, payload, files, exec })) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
