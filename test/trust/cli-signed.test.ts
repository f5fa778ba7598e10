// `skyrec validate`, `plan` and `reconcile --once` with --require-signed-by, in process, for CI:
// exit 0 and the signer for a signed head, exit 6 and why for an untrusted one, exit 2 and
// file:line:col for a malformed key file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { runCli, stderrBesidesWarnings } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { commitSigned, makeSshSigner, writeKeyFile, type Signer } from './signers.js';

let tmp: ReturnType<typeof makeTempDir>;
let repo: TestRepo;
let alice: Signer;
let allowed: string;
let signed: string;
let unsigned: string;

beforeAll(async () => {
  tmp = makeTempDir('skyrec-cli-signed-');
  alice = await makeSshSigner(tmp.dir, 'alice@example.com');
  allowed = writeKeyFile(tmp.dir, 'allowed_signers', alice);
  repo = await TestRepo.create(join(tmp.dir, 'repo'), {});
  cpSync(join(packageRoot(), 'test', 'fixtures', 'valid-repo'), repo.dir, { recursive: true });
  await repo.commit('fleet');
  signed = await commitSigned(repo, alice, 'signed change', { 'notes.txt': 'signed\n' });
  unsigned = await repo.commit('unsigned change', { 'notes.txt': 'unsigned\n' });
}, 60_000);
afterAll(() => tmp?.cleanup());

describe('--require-signed-by for CI', () => {
  it('validate: exit 0 naming the signer of a signed HEAD, exit 6 naming why for an unsigned one', async () => {
    await repo.git('checkout', '-q', signed);
    const ok = await runCli(['validate', '--repo', repo.dir, '--require-signed-by', allowed]);
    expect(stderrBesidesWarnings(ok.stderr)).toEqual([]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`HEAD ${signed.slice(0, 12)} is signed by alice@example.com (ED25519 key ${alice.fingerprint})`);
    const json = await runCli(['validate', '--repo', repo.dir, '--json', '--require-signed-by', allowed]);
    expect(JSON.parse(json.stdout).signature).toMatchObject({ commit: signed, trusted: true, reason: 'signed' });

    await repo.git('checkout', '-q', unsigned);
    const refused = await runCli(['validate', '--repo', repo.dir, '--require-signed-by', allowed]);
    expect(refused.code).toBe(6);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`error: HEAD (${unsigned.slice(0, 12)}) is untrusted: the commit is not signed`);
    expect(refused.stderr).toContain('hint: sign it');
    // Without the flag, nothing changes for anyone.
    expect((await runCli(['validate', '--repo', repo.dir])).code).toBe(0);
  });

  it('plan: checks the --head revision, and prints no plan for an untrusted one', async () => {
    const ok = await runCli(['plan', '--repo', repo.dir, '--base', `${signed}~1`, '--head', signed, '--require-signed-by', allowed]);
    expect(ok.code, ok.stderr).toBe(0);
    const refused = await runCli(['plan', '--repo', repo.dir, '--base', signed, '--head', unsigned, '--format', 'markdown', '--require-signed-by', allowed]);
    expect(refused.code).toBe(6);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('untrusted: the commit is not signed');
  });

  it('refuses a malformed key file at file:line:col (exit 2), and a missing one', async () => {
    const bad = join(tmp.dir, 'bad_signers');
    writeFileSync(bad, `${alice.allowed}alice@example.com ssh-ed25519\n`);
    const r = await runCli(['validate', '--repo', repo.dir, '--require-signed-by', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:2:30: the ssh-ed25519 key must follow as base64`);
    const missing = await runCli(['plan', '--repo', repo.dir, '--require-signed-by', join(tmp.dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });

  it('reconcile --once: an unsigned head is recorded untrusted and exits 6, and nothing is applied', async () => {
    await repo.git('checkout', '-q', 'main');
    const state = join(tmp.dir, 'state');
    const r = await runCli(['reconcile', '--once', '--repo', repo.dir, '--driver', 'local', '--state', state, '--require-signed-by', allowed]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stdout).toContain(`untrusted ${unsigned.slice(0, 12)}: untrusted: the commit is not signed`);
    const status = await runCli(['status', '--json', '--driver', 'local', '--state', state]);
    expect(JSON.parse(status.stdout).nodes).toEqual([]);
  });
});
