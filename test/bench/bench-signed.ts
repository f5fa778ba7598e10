// What --require-signed-by adds to a reconcile cycle on the synthetic repo (packed, 2,000 apps):
// checking one new head (read the commit, ssh-keygen or gpg), and a cycle that meets a head it
// has checked before (the key files read again, the verdict remembered). BENCH_ONLY=signed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { openGit } from '../../reconciler/pipeline/git.js';
import { loadTrustPolicy } from '../../reconciler/trust/trust-policy.js';
import { verifyCommit } from '../../reconciler/trust/verify-commit.js';
import { checkHeadTrust, newTrustMemory } from '../../reconciler/trust/head-trust.js';
import { TestRepo } from '../helpers/git-repo.js';
import { commitSigned, makeGpgSigner, makeSshSigner, writeKeyFile } from '../trust/signers.js';
import { makePlanRepo } from './plan-repo.js';
import { QUICK, SIZE_LABEL } from './bench-size.js';

const CHECKS = QUICK ? 2 : 21;

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < CHECKS; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

export async function benchSigned(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-signed-'));
  const [ssh, other, pgp] = await Promise.all([makeSshSigner(dir, 'alice@example.com'), makeSshSigner(dir, 'mallory@example.com'), makeGpgSigner(dir, 'Carol', 'carol@example.com')]);
  try {
    const { repo } = await makePlanRepo(dir);
    const test = new TestRepo(repo);
    const keyFiles = [writeKeyFile(dir, 'allowed_signers', ssh), writeKeyFile(dir, 'team.asc', pgp)];
    const policy = loadTrustPolicy(keyFiles);
    const git = openGit(repo);
    const heads = { ssh: await commitSigned(test, ssh, 'ssh-signed head'), other: await commitSigned(test, other, 'unknown key'), pgp: await commitSigned(test, pgp, 'openpgp-signed head') };
    const verify = (commit: string, expected: boolean) => async () => {
      const v = await verifyCommit({ git, commit, policy, exec });
      if (v.trusted !== expected) throw new Error(`bench: ${commit} came out ${v.reason}`);
    };
    const memory = newTrustMemory();
    const log = pino({ level: 'silent' });
    await checkHeadTrust({ keyFiles, dir: repo, commit: heads.ssh, memory, exec, log });
    const figures: [string, number][] = [
      ['new head, SSH, allowed key', await median(verify(heads.ssh, true))],
      ['new head, SSH, unknown key', await median(verify(heads.other, false))],
      ['new head, OpenPGP, allowed key', await median(verify(heads.pgp, true))],
      ['same head again (remembered)', await median(() => checkHeadTrust({ keyFiles, dir: repo, commit: heads.ssh, memory, exec, log }))],
    ];
    console.log(`\n--require-signed-by: time added to one reconcile cycle, ${SIZE_LABEL} (packed git repo), median of ${CHECKS}`);
    for (const [name, ms] of figures) console.log(`  ${name.padEnd(34)} ${`${ms.toFixed(1)} ms`.padStart(10)}`);
  } finally {
    await pgp.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
