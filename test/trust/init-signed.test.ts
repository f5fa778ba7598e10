// `skyrec init --require-signed-by`: the key files land in .skyrec/, and the pull-request workflow
// states the requirement and checks it. The workflow's step runs here in a real bash, as the
// runner would, with the built skyrec on PATH: a pull request signed by an allowed key passes, one
// signed by another key fails, and a pull request that adds its own key to .skyrec/ still fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CommandError } from '../../common/errors.js';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { initRepo } from '../../reconciler/cli/init.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { commitSigned, makeSshSigner, writeKeyFile, type Signer } from './signers.js';

interface Step { name?: string; run?: string; env?: Record<string, string> }

let tmp: ReturnType<typeof makeTempDir>;
let alice: Signer, mallory: Signer;
let bin: string;
beforeAll(async () => {
  tmp = makeTempDir('skyrec-init-signed-');
  [alice, mallory] = await Promise.all([makeSshSigner(tmp.dir, 'alice@example.com'), makeSshSigner(tmp.dir, 'mallory@example.com')]);
  // `npm install --global skyrec` on the runner: here, the built one.
  bin = join(tmp.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'skyrec'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(packageRoot(), 'bin', 'skyrec.js'))} "$@"\n`);
  chmodSync(join(bin, 'skyrec'), 0o755);
}, 60_000);
afterAll(() => tmp?.cleanup());

describe('skyrec init --require-signed-by', () => {
  it('writes the keys to .skyrec/ and a workflow that states the requirement; without the flag, neither', async () => {
    await initRepo(join(tmp.dir, 'plain'), { force: false });
    expect(readFileSync(join(tmp.dir, 'plain', '.github/workflows/skyrec-plan.yml'), 'utf8')).not.toMatch(/signed/i);

    const keys = writeKeyFile(tmp.dir, 'allowed_signers', alice);
    expect(await initRepo(join(tmp.dir, 'signed'), { force: false, requireSignedBy: [keys] })).toContain('.skyrec/allowed_signers');
    expect(readFileSync(join(tmp.dir, 'signed', '.skyrec/allowed_signers'), 'utf8')).toBe(alice.allowed);
    const text = readFileSync(join(tmp.dir, 'signed', '.github/workflows/skyrec-plan.yml'), 'utf8');
    expect(text).toContain('# Signed commits are required: only commits signed by a key in .skyrec/allowed_signers deploy');
    const steps = (parse(text) as { jobs: { plan: { steps: Step[] } } }).jobs.plan.steps;
    expect(steps.at(-1)!.name).toBe('Signed commits (only commits signed by an allowed key deploy)');
  });

  it("the workflow's step passes a pull request signed by an allowed key, and fails one signed by another, even when it allows itself", async () => {
    const keys = writeKeyFile(tmp.dir, 'team_signers', alice);
    const repo = new TestRepo(join(tmp.dir, 'config'));
    await initRepo(repo.dir, { force: false, requireSignedBy: [keys] });
    await repo.git('init', '-q', '-b', 'main');
    await commitSigned(repo, alice, 'init');
    await repo.git('update-ref', 'refs/remotes/origin/main', 'HEAD');
    const step = (parse(readFileSync(join(repo.dir, '.github/workflows/skyrec-plan.yml'), 'utf8')) as { jobs: { plan: { steps: Step[] } } }).jobs.plan.steps.at(-1)!;
    const script = join(tmp.dir, 'step.sh');
    writeFileSync(script, step.run!);
    const runStep = (head: string) =>
      exec(['bash', '-e', script], { cwd: repo.dir, env: { PATH: `${bin}:${process.env.PATH}`, BASE_REF: 'main', PR_HEAD: head, RUNNER_TEMP: join(tmp.dir, `runner-${head.slice(0, 8)}`), SKYREC_CACHE_DIR: '/nonexistent' } });

    const good = await commitSigned(repo, alice, 'alice: a change', { 'notes.txt': 'a\n' });
    await runStep(good);

    await repo.git('checkout', '-q', '-b', 'mallory', 'origin/main');
    const bad = await commitSigned(repo, mallory, 'mallory: allow myself', { '.skyrec/team_signers': alice.allowed + mallory.allowed });
    const err = await runStep(bad).then(() => null, (e: CommandError) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err!.exitCode_).toBe(6);
    expect(err!.stderr).toContain(`untrusted: signed by ED25519 key ${mallory.fingerprint}`);
  }, 60_000);
});
