// `skyrec reconcile --require-signed-by` as a real process with the local driver (real git,
// ssh-keygen, Nix profiles, processes, Caddy, HTTP): a head signed by an allowed key deploys; one
// signed by an unknown key, or unsigned, is not applied, is reported in /api/status, /metrics,
// the status page and `skyrec status`, and is checked once, while the last trusted revision keeps
// serving. Run under the e2e lock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort, getJson, makeTempDir } from '../helpers/tools.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { commitSigned, makeSshSigner, writeKeyFile } from './signers.js';

const FLEET = `settings:
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 10s }
nodes:
  - { name: web-1, host: root@10.9.3.1, address: 10.9.3.1, labels: { role: web }, ingress: true }
`;
const api = (greeting: string) => `name: api
package: { build: { stack: nodejs, path: src/api } }
processes:
  web:
    command: node server.js
    instances: 1
    healthcheck: { path: /healthz, interval: 1s }
env: { GREETING: ${JSON.stringify(greeting)} }
domains: [api.signed.example]
`;

let tmp: ReturnType<typeof makeTempDir>;
let r: RunningReconciler | undefined;
beforeAll(() => {
  tmp = makeTempDir('skyrec-reconcile-signed-');
});
afterAll(async () => {
  if (r && r.child.exitCode === null) {
    r.child.kill('SIGTERM');
    await r.exited;
  }
  await runCli(['down', '--driver', 'local', '--state', join(tmp.dir, 'state')]);
  tmp?.cleanup();
});

const headIs = (rev: string, trusted: boolean) => (s: DaemonStatus) => s.trust?.head?.commit === rev && s.trust.head.trusted === trusted && s.running === null && s.runs[0]?.revision === rev;

describe('skyrec reconcile --require-signed-by', () => {
  it('applies heads signed by an allowed key, and keeps serving the last trusted revision while an untrusted head is reported, not applied and not checked again', async () => {
    const [alice, mallory] = await Promise.all([makeSshSigner(tmp.dir, 'alice@example.com'), makeSshSigner(tmp.dir, 'mallory@example.com')]);
    const allowed = writeKeyFile(tmp.dir, 'allowed_signers', alice);
    const repo = await TestRepo.create(join(tmp.dir, 'repo'), { 'fleet.yaml': FLEET, 'apps/api.yaml': api('one') });
    cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(repo.dir, 'src', 'api'), { recursive: true });
    const one = await commitSigned(repo, alice, 'api: one');
    const state = join(tmp.dir, 'state');
    const port = await freePort();
    const greeting = async () => (await getJson(port, 'api.signed.example')).greeting as string;
    r = await startReconciler(['--repo', repo.dir, '--driver', 'local', '--state', state, '--http-port', String(port), '--interval', '300ms', '--require-signed-by', allowed]);

    const first = await r.waitFor('the signed first commit applied', (s) => s.applied?.revision === one && s.running === null);
    expect(first.trust).toMatchObject({ required: true, head: { commit: one, trusted: true, reason: 'signed', signer: `alice@example.com (ED25519 key ${alice.fingerprint})` } });
    expect(await greeting()).toBe('one');
    expect((await r.get('/metrics')).body).toMatch(/^skyrec_head_untrusted 0$/m);

    // Signed, but by a key the file does not allow.
    const two = await commitSigned(repo, mallory, 'api: two', { 'apps/api.yaml': api('two') });
    const refused = await r.waitFor('the head signed by mallory refused', headIs(two, false));
    expect(refused.trust!.head).toMatchObject({ reason: 'unknown-key', signer: `ED25519 key ${mallory.fingerprint}` });
    expect(refused.runs[0]).toMatchObject({ outcome: 'untrusted', revision: two });
    expect(refused.runs[0].detail).toContain(mallory.fingerprint);
    expect(refused.applied?.revision).toBe(one);
    expect(await greeting()).toBe('one');
    const metrics = (await r.get('/metrics')).body;
    expect(metrics).toMatch(/^skyrec_head_untrusted\{reason="unknown-key"\} 1$/m);
    expect(metrics).toMatch(/^skyrec_reconcile_runs_total\{outcome="untrusted"\} [1-9]/m);
    const page = (await r.get('/')).body;
    expect(page).toContain('Untrusted head: not applied');
    expect(page).toContain(mallory.fingerprint);

    // Later cycles find the same head: the run is seen again, the signature is not checked again.
    const seen = refused.runs[0].finishedAt;
    await r.waitFor('two more cycles on the refused head', (s) => s.runs[0].revision === two && s.runs[0].finishedAt > seen && s.running === null);
    const checks = () => r!.stderr().split('\n').filter((l) => l.includes('head signature') && l.includes(two.slice(0, 12)));
    const again = (await r.status()).runs[0].finishedAt;
    await r.waitFor('one more cycle', (s) => s.runs[0].finishedAt > again && s.running === null);
    expect(checks()).toHaveLength(1);
    expect((await r.status()).runs.filter((run) => run.revision === two)).toHaveLength(1);

    // `skyrec status` beside the loop says the same.
    const status = await runCli(['status', '--driver', 'local', '--state', state]);
    expect(status.stdout).toContain(`signed   required; head ${two.slice(0, 12)} untrusted: signed by ED25519 key ${mallory.fingerprint}`);

    // Unsigned: refused too, and said so.
    const three = await repo.commit('api: three', { 'apps/api.yaml': api('three') });
    const unsigned = await r.waitFor('the unsigned head refused', headIs(three, false));
    expect(unsigned.trust!.head).toMatchObject({ reason: 'unsigned', signer: null });
    expect(unsigned.runs[0].detail).toContain('not signed');
    expect((await r.get('/metrics')).body).toMatch(/^skyrec_head_untrusted\{reason="unsigned"\} 1$/m);
    expect(await greeting()).toBe('one');

    // A signed commit by alice on top deploys, with everything before it.
    const four = await commitSigned(repo, alice, 'api: four', { 'apps/api.yaml': api('four') });
    const deployed = await r.waitFor('the signed fourth commit applied', (s) => s.applied?.revision === four && s.running === null);
    expect(deployed.trust!.head).toMatchObject({ commit: four, trusted: true });
    expect(await greeting()).toBe('four');
    expect((await r.get('/metrics')).body).toMatch(/^skyrec_head_untrusted 0$/m);

    r.child.kill('SIGTERM');
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
  }, 180_000);
});
