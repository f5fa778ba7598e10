// Where the reconciler and `plan`/`validate` ask whether a head may be used. The reconciler
// remembers each commit's verdict (while the key files stay the same), so an untrusted head is
// checked once, reported, and then skipped by every cycle until a newer commit arrives.
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import { SpecError, TrustCheckError, UntrustedRevisionError } from '../../common/errors.js';
import { formatProblem } from '../../common/problem.js';
import { openGit, resolveRevision } from '../pipeline/git.js';
import { loadTrustPolicy } from './trust-policy.js';
import { describeVerdict, type TrustVerdict } from './trust-verdict.js';
import { verifyCommit } from './verify-commit.js';

/** What the loop keeps between cycles. */
export interface TrustMemory {
  /** Verdicts by commit id, made with the key files whose hash is `policyHash`. */
  verdicts: Map<string, TrustVerdict>;
  policyHash: string | null;
  /** The verdict on the head the last cycle fetched (null: no check made yet). */
  head: TrustVerdict | null;
}

export const newTrustMemory = (): TrustMemory => ({ verdicts: new Map(), policyHash: null, head: null });

/** Enough for every head a loop meets between two changes of the key files. */
const REMEMBERED = 256;

/** The verdict on `commit` of the repository in `dir`: remembered, or checked now. */
export async function checkHeadTrust(opts: { keyFiles: string[]; dir: string; commit: string; memory: TrustMemory; exec: Exec; log: Logger }): Promise<TrustVerdict> {
  const { memory, commit, log } = opts;
  const policy = readPolicy(opts.keyFiles);
  if (policy.hash !== memory.policyHash) {
    memory.verdicts.clear();
    memory.policyHash = policy.hash;
  }
  let verdict = memory.verdicts.get(commit);
  if (!verdict) {
    const started = performance.now();
    verdict = await verifyCommit({ git: openGit(opts.dir), commit, policy, exec: opts.exec });
    const fields = { reason: verdict.reason, signer: verdict.signer, ms: Math.round(performance.now() - started) };
    if (verdict.trusted) log.info(fields, 'head signature: trusted');
    else log.warn(fields, `head signature: ${describeVerdict(verdict)}; not applied`);
    if (memory.verdicts.size >= REMEMBERED) memory.verdicts.delete(memory.verdicts.keys().next().value!);
    memory.verdicts.set(commit, verdict);
  }
  memory.head = verdict;
  return verdict;
}

/** The key files again, for a cycle: one broken since the start makes the cycle an error naming file:line:col. */
function readPolicy(keyFiles: string[]) {
  try {
    return loadTrustPolicy(keyFiles);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    throw new TrustCheckError(`cannot check the head's signature: ${err.problems.map(formatProblem).join('; ')}`, { hint: 'fix the --require-signed-by file; nothing is applied until then' });
  }
}

/** `plan`/`validate --require-signed-by`: the verdict on `rev`, or UntrustedRevisionError (exit 6). */
export async function requireSignedRevision(opts: { keyFiles: string[]; dir: string; rev: string; exec: Exec }): Promise<TrustVerdict> {
  const policy = loadTrustPolicy(opts.keyFiles);
  const git = openGit(opts.dir);
  const commit = await resolveRevision(git, opts.rev);
  const verdict = await verifyCommit({ git, commit, policy, exec: opts.exec });
  if (!verdict.trusted) {
    throw new UntrustedRevisionError(`${opts.rev} (${commit.slice(0, 12)}) is ${describeVerdict(verdict)}`, {
      hint: 'sign it with a key the --require-signed-by files allow (git commit --amend -S, with user.signingkey and gpg.format set), or add the signer\'s key to them',
    });
  }
  return verdict;
}
