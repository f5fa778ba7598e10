// Signed heads with real git, ssh-keygen and gpg: which commits --require-signed-by trusts, and
// that skyrec's verdict agrees with `git verify-commit` given the same keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { exec } from '../../common/exec.js';
import { SpecError, TrustCheckError, UntrustedRevisionError } from '../../common/errors.js';
import type { Exec } from '../../common/exec.js';
import pino from 'pino';
import { openGit } from '../../reconciler/pipeline/git.js';
import { loadTrustPolicy } from '../../reconciler/trust/trust-policy.js';
import { verifyCommit } from '../../reconciler/trust/verify-commit.js';
import { checkHeadTrust, newTrustMemory, requireSignedRevision } from '../../reconciler/trust/head-trust.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { commitSigned, forgeCommit, makeGpgSigner, makeSshSigner, writeKeyFile, type Signer } from './signers.js';

let tmp: ReturnType<typeof makeTempDir>;
let repo: TestRepo;
let alice: Signer, mallory: Signer, carol: Signer, eve: Signer;
let allowedSigners: string, keyring: string;

beforeAll(async () => {
  tmp = makeTempDir('skyrec-trust-');
  [alice, mallory, carol, eve] = await Promise.all([
    makeSshSigner(tmp.dir, 'alice@example.com'),
    makeSshSigner(tmp.dir, 'mallory@example.com'),
    makeGpgSigner(tmp.dir, 'Carol', 'carol@example.com'),
    makeGpgSigner(tmp.dir, 'Eve', 'eve@example.com'),
  ]);
  allowedSigners = writeKeyFile(tmp.dir, 'allowed_signers', alice);
  keyring = writeKeyFile(tmp.dir, 'team.asc', carol);
  repo = await TestRepo.create(join(tmp.dir, 'repo'), { 'fleet.yaml': 'nodes: []\n' });
}, 60_000);

afterAll(async () => {
  await Promise.all([carol, eve].map((s) => s?.dispose()));
  tmp.cleanup();
});

const verdictOf = async (commit: string, files = [allowedSigners, keyring]) => verifyCommit({ git: openGit(repo.dir), commit, policy: loadTrustPolicy(files), exec });

/** `git verify-commit` with the same keys: exit 0 or not. */
async function gitAccepts(commit: string): Promise<boolean> {
  const gnupg = join(tmp.dir, 'git-verify-gnupg');
  await exec(['mkdir', '-p', '-m', '700', gnupg]);
  await exec(['gpg', '--homedir', gnupg, '--batch', '--quiet', '--import', keyring]);
  return exec(['git', '-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`, 'verify-commit', commit], { cwd: repo.dir, env: { GNUPGHOME: gnupg } }).then(() => true, () => false);
}

describe('a head signed with SSH', () => {
  it('is trusted when the key is in the allowed-signers file, naming the principal and key', async () => {
    const commit = await commitSigned(repo, alice, 'signed by alice', { 'apps/a.yaml': 'name: a\n' });
    const v = await verdictOf(commit);
    expect(v).toMatchObject({ commit, trusted: true, reason: 'signed', format: 'ssh' });
    expect(v.signer).toBe(`alice@example.com (ED25519 key ${alice.fingerprint})`);
    expect(await gitAccepts(commit)).toBe(true);
  });

  it('is refused when signed by a key no file allows, naming that key', async () => {
    const commit = await commitSigned(repo, mallory, 'signed by mallory');
    expect(await verdictOf(commit)).toMatchObject({ trusted: false, reason: 'unknown-key', signer: `ED25519 key ${mallory.fingerprint}` });
    expect(await gitAccepts(commit)).toBe(false);
  });

  it('is refused when unsigned, and when a signed commit was amended without a signature', async () => {
    const unsigned = await repo.commit('unsigned');
    expect(await verdictOf(unsigned)).toMatchObject({ trusted: false, reason: 'unsigned', signer: null, format: null });
    const signed = await commitSigned(repo, alice, 'signed, then amended');
    expect((await verdictOf(signed)).trusted).toBe(true);
    await exec(['git', '-c', 'user.name=skyrec test', '-c', 'user.email=test@skyrec.invalid', 'commit', '-q', '--amend', '--allow-empty', '--no-gpg-sign', '-m', 'amended'], { cwd: repo.dir });
    const amended = await repo.git('rev-parse', 'HEAD');
    expect(amended).not.toBe(signed);
    expect(await verdictOf(amended)).toMatchObject({ trusted: false, reason: 'unsigned' });
    expect(await gitAccepts(amended)).toBe(false);
  });

  it('is refused when its gpgsig header was copied onto another commit (forged), naming the key it claims', async () => {
    const signed = await commitSigned(repo, alice, 'the real one');
    const forged = await forgeCommit(repo, signed, 'deploy something else');
    const v = await verdictOf(forged);
    expect(v).toMatchObject({ trusted: false, reason: 'bad-signature', format: 'ssh' });
    expect(v.signer).toContain('alice@example.com');
    expect(await gitAccepts(forged)).toBe(false);
  });

  it('is refused when the allowed key has expired (valid-before), though the signature is sound', async () => {
    const commit = await commitSigned(repo, alice, 'signed by alice, key since expired');
    const expired = join(tmp.dir, 'expired_signers');
    writeFileSync(expired, alice.allowed.replace('alice@example.com ', 'alice@example.com valid-before="20200101" '));
    expect(await verdictOf(commit, [expired])).toMatchObject({ trusted: false, reason: 'expired-key' });
  });
});

describe('a head signed with OpenPGP', () => {
  it('is trusted when the key is in the given keyring, naming the user id and fingerprint', async () => {
    const commit = await commitSigned(repo, carol, 'signed by carol');
    const v = await verdictOf(commit);
    expect(v).toMatchObject({ trusted: true, reason: 'signed', format: 'openpgp' });
    expect(v.signer).toBe(`Carol <carol@example.com>, key ${carol.fingerprint}`);
    expect(await gitAccepts(commit)).toBe(true);
  });

  it('is refused when signed by another key', async () => {
    const commit = await commitSigned(repo, eve, 'signed by eve');
    const v = await verdictOf(commit);
    expect(v).toMatchObject({ trusted: false, reason: 'unknown-key', format: 'openpgp' });
    expect(v.signer).toBe(`key ${eve.fingerprint}`);
    expect(await gitAccepts(commit)).toBe(false);
  });

  it('is refused when forged, and when only SSH keys are allowed', async () => {
    const signed = await commitSigned(repo, carol, 'carol, for real');
    const forged = await forgeCommit(repo, signed, 'carol, forged');
    expect(await verdictOf(forged)).toMatchObject({ trusted: false, reason: 'bad-signature' });
    expect(await verdictOf(signed, [allowedSigners])).toMatchObject({ trusted: false, reason: 'unknown-key' });
  });
});

describe('--require-signed-by files', () => {
  it('refuses a malformed allowed-signers line at file:line:col, and a keyring holding a private key', async () => {
    const bad = join(tmp.dir, 'bad_signers');
    writeFileSync(bad, `# team\n${alice.allowed}ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\nbob@example.com ssh-ed25519 !!!\n`);
    const err = (() => {
      try {
        loadTrustPolicy([bad]);
      } catch (e) {
        return e as SpecError;
      }
    })();
    expect(err).toBeInstanceOf(SpecError);
    expect(err!.problems.map((p) => `${p.line}:${p.col}`)).toEqual(['3:1', '4:29']);
    expect(err!.problems[0].file).toBe(bad);
    expect(err!.problems[0].message).toMatch(/principals missing/);

    const secret = join(tmp.dir, 'secret.asc');
    writeFileSync(secret, '\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxyz\n-----END PGP PRIVATE KEY BLOCK-----\n');
    expect(() => loadTrustPolicy([secret])).toThrow(SpecError);
  });

  it('plan/validate: an untrusted revision is an UntrustedRevisionError (exit 6) naming the signer found', async () => {
    const commit = await commitSigned(repo, mallory, 'mallory again');
    const err = await requireSignedRevision({ keyFiles: [allowedSigners], dir: repo.dir, rev: 'HEAD', exec }).catch((e: unknown) => e as UntrustedRevisionError);
    expect(err).toBeInstanceOf(UntrustedRevisionError);
    expect((err as UntrustedRevisionError).exitCode).toBe(6);
    expect((err as UntrustedRevisionError).message).toContain(commit.slice(0, 12));
    expect((err as UntrustedRevisionError).message).toContain(mallory.fingerprint);
  });
});

describe('the loop', () => {
  it('checks a commit once while the key files stay the same, again once they change, and refuses a file broken since', async () => {
    const keys = writeKeyFile(tmp.dir, 'loop_signers', alice);
    const commit = await commitSigned(repo, mallory, 'mallory, for the loop');
    const memory = newTrustMemory();
    const runs: string[][] = [];
    const counting: Exec = (argv, opts) => (runs.push(argv), exec(argv, opts));
    const check = () => checkHeadTrust({ keyFiles: [keys], dir: repo.dir, commit, memory, exec: counting, log: pino({ level: 'silent' }) });
    expect(await check()).toMatchObject({ trusted: false, reason: 'unknown-key' });
    const first = runs.length;
    expect(first).toBeGreaterThan(0);
    expect(await check()).toMatchObject({ trusted: false, reason: 'unknown-key' });
    expect(runs).toHaveLength(first);
    expect(memory.head).toMatchObject({ commit, trusted: false });

    // mallory's key is added to the file: the next cycle checks again, and trusts the commit.
    writeFileSync(keys, alice.allowed + mallory.allowed);
    expect(await check()).toMatchObject({ trusted: true, signer: `mallory@example.com (ED25519 key ${mallory.fingerprint})` });
    expect(runs.length).toBeGreaterThan(first);

    writeFileSync(keys, 'mallory@example.com\n');
    const err = await check().catch((e: unknown) => e as TrustCheckError);
    expect(err).toBeInstanceOf(TrustCheckError);
    expect((err as TrustCheckError).message).toContain(`${keys}:1:1: no key`);
  });
});
